"""Gateway listeners and routes: host binding with `ns/host` rules, merging, TLS, HTTPS redirect."""

from __future__ import annotations

from mesh_runtime.discovery.builder import build_proxy_config
from mesh_runtime.xds import ProxyConfig, Redirect
from tests.unit.discovery.snapshots import bookinfo_snapshot, ingress_gateway

GATEWAY = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["default/*.example.com", "./admin.example.com"]
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: ["*/secure.example.com"]
    tls: {mode: SIMPLE, serverCertificate: /certs/cert.pem, privateKey: /certs/key.pem}
  - port: {number: 8081, name: redirect, protocol: HTTP}
    hosts: ["*/secure.example.com"]
    tls: {httpsRedirect: true}
  - port: {number: 9443, name: passthrough, protocol: TLS}
    hosts: ["*"]
    tls: {mode: PASSTHROUGH}
---
"""


def vs(name: str, namespace: str, hosts: str, gateways: str, subset: str = "v1") -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  hosts: {hosts}
  gateways: {gateways}
  http: [{{route: [{{destination: {{host: reviews.default.svc.cluster.local, subset: {subset}}}}}]}}]
---
"""


def build(*texts: str) -> ProxyConfig:
    return build_proxy_config(bookinfo_snapshot(GATEWAY, *texts), ingress_gateway())


def domains(config: ProxyConfig, route_config: str) -> dict[str, list[str]]:
    found = next(rc for rc in config.route_configs if rc.name == route_config)
    return {v.domains[0]: [r.origin for r in v.routes] for v in found.virtual_hosts}


def test_listeners_for_http_servers_only_with_terminating_tls() -> None:
    config = build()
    assert [(listener.port, listener.route_config, listener.tls.mode) for listener in config.listeners] == [
        (8080, "http.8080", "DISABLE"),
        (8443, "http.8443", "SIMPLE"),
        (8081, "http.8081", "DISABLE"),
    ]
    tls = config.listeners[1].tls
    assert (tls.client_certificate, tls.private_key) == ("/certs/cert.pem", "/certs/key.pem")


def test_server_host_namespaces_admit_virtual_services() -> None:
    config = build(
        vs("shop", "default", '["shop.example.com"]', "[istio-system/public]"),
        vs("other-ns", "other", '["other.example.com"]', "[istio-system/public]"),
        vs("admin", "istio-system", '["admin.example.com"]', "[public]"),
        vs("not-bound", "default", '["x.example.com"]', "[mesh]"),
        vs("wide", "default", '["*"]', "[istio-system/public]"),
    )
    assert domains(config, "http.8080") == {
        "shop.example.com": ["default/shop"],
        "admin.example.com": ["istio-system/admin"],
        "*.example.com": ["default/wide"],
    }


def test_virtual_services_for_the_same_host_are_merged_in_order() -> None:
    config = build(
        vs("first", "default", '["shop.example.com"]', "[istio-system/public]"),
        vs("second", "default", '["shop.example.com"]', "[istio-system/public]", subset="v2"),
    )
    assert domains(config, "http.8080") == {"shop.example.com": ["default/first", "default/second"]}
    host = next(rc for rc in config.route_configs if rc.name == "http.8080").virtual_hosts[0]
    assert host.domains == ("shop.example.com", "shop.example.com:8080")


def test_https_redirect_servers_redirect_every_request() -> None:
    config = build(vs("secure", "default", '["secure.example.com"]', "[istio-system/public]"))
    (host,) = next(rc for rc in config.route_configs if rc.name == "http.8081").virtual_hosts
    assert host.routes[0].redirect == Redirect(scheme="https", response_code=301)
    assert domains(config, "http.8443") == {"secure.example.com": ["default/secure"]}


def test_a_virtual_service_not_exported_to_the_gateway_namespace_is_not_bound() -> None:
    hidden = vs("hidden", "default", '["shop.example.com"]', "[istio-system/public]").replace(
        "gateways:", 'exportTo: ["."]\n  gateways:'
    )
    assert domains(build(hidden), "http.8080") == {}
