"""Gateway listeners and routes: host binding with `ns/host` rules, merging, TLS, HTTPS redirect."""

from __future__ import annotations

from mesh_runtime.discovery.builder import build_proxy_config
from mesh_runtime.xds import Node, ProxyConfig, Redirect
from tests.unit.discovery.snapshots import bookinfo_sidecars, bookinfo_snapshot, ingress_gateway

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


EGRESS = """
apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn}
spec:
  hosts: [edition.cnn.com]
  ports: [{number: 80, name: http-port, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [edition.cnn.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct-cnn-through-egress-gateway}
spec:
  hosts: [edition.cnn.com]
  gateways: [istio-egressgateway, mesh]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}}]
  - match: [{gateways: [istio-egressgateway], port: 80}]
    route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]
"""


def egress_gateway() -> Node:
    return Node(
        id="istio-egressgateway.istio-system",
        type="gateway",
        namespace="istio-system",
        workload="istio-egressgateway",
        service_account="istio-egressgateway-service-account",
        labels={"app": "istio-egressgateway", "istio": "egressgateway"},
        address="127.0.0.1",
    )


def test_istios_egress_gateway_example() -> None:
    snap = bookinfo_snapshot(EGRESS, extra_nodes=[egress_gateway()])
    gateway = build_proxy_config(snap, egress_gateway())
    (listener,) = gateway.listeners
    assert (listener.port, listener.route_config) == (8080, "http.80")  # the Service's targetPort
    (host,) = gateway.route_configs[0].virtual_hosts
    assert host.domains == ("edition.cnn.com", "edition.cnn.com:80")
    assert [r.clusters[0].cluster for r in host.routes] == ["outbound|80||edition.cnn.com"]
    cnn = {a.cluster: a.endpoints for a in gateway.endpoints}["outbound|80||edition.cnn.com"]
    assert [(e.address, e.port) for e in cnn] == [("edition.cnn.com", 80)]
    # Sidecars send edition.cnn.com to the egress gateway, whose endpoint is its listener.
    sidecar = build_proxy_config(snap, bookinfo_sidecars()[0])
    port80 = next(rc for rc in sidecar.route_configs if rc.name == "80")
    cnn_host = next(v for v in port80.virtual_hosts if v.name == "edition.cnn.com:80")
    target = "outbound|80||istio-egressgateway.istio-system.svc.cluster.local"
    assert [r.clusters[0].cluster for r in cnn_host.routes] == [target]
    (endpoint,) = {a.cluster: a.endpoints for a in sidecar.endpoints}[target]
    assert (endpoint.port, endpoint.has_sidecar, endpoint.workload) == (8080, False, "istio-egressgateway")


def test_a_gateway_server_with_istio_mutual_is_reached_with_mtls() -> None:
    mutual = EGRESS.replace(
        "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [edition.cnn.com]}]",
        "servers: [{port: {number: 80, name: https, protocol: HTTPS}, hosts: [edition.cnn.com], "
        "tls: {mode: ISTIO_MUTUAL}}]",
    )
    snap = bookinfo_snapshot(mutual, extra_nodes=[egress_gateway()])
    (listener,) = build_proxy_config(snap, egress_gateway()).listeners
    assert (listener.port, listener.tls.mode) == (8080, "ISTIO_MUTUAL")
    sidecar = build_proxy_config(snap, bookinfo_sidecars()[0])
    target = "outbound|80||istio-egressgateway.istio-system.svc.cluster.local"
    (endpoint,) = {a.cluster: a.endpoints for a in sidecar.endpoints}[target]
    assert endpoint.has_sidecar and endpoint.identity.endswith("/sa/istio-egressgateway-service-account")
