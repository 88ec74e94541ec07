"""A gateway's config: a listener per server port of the Gateways selecting it, with the routes of the
VirtualServices bound to those Gateways, and clusters for every service it can reach.

Binding follows Istio: a VirtualService applies when it names the Gateway (`ns/name`, or a bare name in its
own namespace), is exported to the Gateway's namespace, and one of its hosts matches a server host — where a
server host `ns/dnsName` admits VirtualServices of namespace `ns` only (`*`: any, `.`: the Gateway's). The
virtual host takes the narrower of the two names. VirtualServices for the same host on the same port are
merged, oldest first. Only HTTP servers (HTTP, HTTP2, GRPC, and HTTPS that terminates TLS) are served.

A server port is bound as Istio binds it: when a Service selecting the gateway has that port, its
`targetPort` is where the gateway listens (Istio's egress gateway: Gateway port 80, pod port 8080); otherwise
the server port itself. If the proxy's Node names an `inbound_port`, the first server port is served there
instead (a launcher's choice). Routes always see the server's port.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...resources import Resource
from ...resources import fields as f
from ...resources import kinds as k
from ...resources.hosts import matches, split_namespaced_host, subset_of
from ...xds import (
    Cluster,
    ClusterLoadAssignment,
    Listener,
    Node,
    Redirect,
    Route,
    RouteConfiguration,
    TlsSettings,
    VirtualHost,
)
from ..snapshot import Snapshot, export_set, exported_to
from .routes import RouteContext, http_routes
from .scope import bound_gateways, visible_services
from .sidecar import outbound_clusters, outbound_load_assignments

HTTP_SERVER_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTPS"})
_TERMINATING_TLS = {
    "SIMPLE": "SIMPLE",
    "MUTUAL": "MUTUAL",
    "OPTIONAL_MUTUAL": "MUTUAL",
    "ISTIO_MUTUAL": "ISTIO_MUTUAL",
}


@dataclass(frozen=True, slots=True)
class BoundServer:
    gateway: Resource
    server: Mapping[str, Any]

    @property
    def gateway_key(self) -> str:
        return self.gateway.full_name

    @property
    def port(self) -> int:
        return f.integer(f.mapping(self.server.get("port")).get("number")) or 0

    @property
    def tls(self) -> Mapping[str, Any]:
        return f.mapping(self.server.get("tls"))

    def is_http(self) -> bool:
        protocol = f.text(f.mapping(self.server.get("port")).get("protocol")).upper()
        if protocol not in HTTP_SERVER_PROTOCOLS:
            return False
        return protocol != "HTTPS" or f.text(self.tls.get("mode")) in _TERMINATING_TLS


def selecting_gateways(snapshot: Snapshot, node: Node) -> list[Resource]:
    """Gateways (in any namespace) whose selector matches the proxy's labels."""
    return [
        g
        for g in snapshot.of_kind(k.GATEWAY)
        if f.labels_match(f.string_map(g.spec.get("selector")), node.labels)
    ]


def http_servers(snapshot: Snapshot, node: Node) -> dict[int, list[BoundServer]]:
    """The HTTP servers of the proxy's Gateways by port, in the order the Gateways list them."""
    by_port: dict[int, list[BoundServer]] = {}
    for gateway in selecting_gateways(snapshot, node):
        for server in f.mappings(gateway.spec.get("servers")):
            bound = BoundServer(gateway, server)
            if bound.port and bound.is_http():
                by_port.setdefault(bound.port, []).append(bound)
    return by_port


def gateway_parts(
    snapshot: Snapshot, node: Node
) -> tuple[list[Listener], list[RouteConfiguration], list[Cluster], list[ClusterLoadAssignment]]:
    listeners: list[Listener] = []
    route_configs: list[RouteConfiguration] = []
    target_ports = service_target_ports(snapshot, node)
    for index, (port, servers) in enumerate(http_servers(snapshot, node).items()):
        name = f"http.{port}"
        bind_port = node.inbound_port if index == 0 and node.inbound_port else target_ports.get(port, port)
        bind = f.text(servers[0].server.get("bind")) or node.address
        listeners.append(
            Listener(
                name=f"{bind}_{port}",
                direction="gateway",
                address=bind,
                port=bind_port,
                route_config=name,
                tls=server_tls(servers),
            )
        )
        route_configs.append(RouteConfiguration(name, gateway_virtual_hosts(snapshot, node, port, servers)))
    services = visible_services(snapshot, node)
    clusters = outbound_clusters(snapshot, node, services)
    return listeners, route_configs, clusters, outbound_load_assignments(snapshot, node, services)


def service_target_ports(snapshot: Snapshot, node: Node) -> dict[int, int]:
    """Service port → target port, from the Services in the gateway's namespace that select it."""
    ports: dict[int, int] = {}
    for service in snapshot.services:
        selector = service.selector
        if service.namespace != node.namespace or not selector or not f.labels_match(selector, node.labels):
            continue
        for port in service.ports:
            if isinstance(port.target_port, int):
                ports.setdefault(port.port, port.target_port)
    return ports


def gateway_load_assignments(snapshot: Snapshot, node: Node) -> list[ClusterLoadAssignment]:
    return outbound_load_assignments(snapshot, node, visible_services(snapshot, node))


def server_tls(servers: list[BoundServer]) -> TlsSettings:
    """The listener's TLS: the first server on the port that terminates TLS (files named in the Gateway)."""
    for bound in servers:
        mode = _TERMINATING_TLS.get(f.text(bound.tls.get("mode")))
        if mode is not None:
            return TlsSettings(
                mode=mode,  # type: ignore[arg-type]
                client_certificate=f.text(bound.tls.get("serverCertificate")),
                private_key=f.text(bound.tls.get("privateKey")),
                ca_certificates=f.text(bound.tls.get("caCertificates")),
                subject_alt_names=f.strings(bound.tls.get("subjectAltNames")),
            )
    return TlsSettings()


def gateway_virtual_hosts(
    snapshot: Snapshot, node: Node, port: int, servers: list[BoundServer]
) -> tuple[VirtualHost, ...]:
    routes_by_domain: dict[str, list[Route]] = {}
    added: set[tuple[str, str]] = set()
    for virtual_service in snapshot.of_kind(k.VIRTUAL_SERVICE):
        gateways = bound_gateways(virtual_service)
        export = export_set(f.strings(virtual_service.spec.get("exportTo")), virtual_service.namespace)
        for bound in servers:
            if bound.gateway_key not in gateways or not exported_to(export, bound.gateway.namespace):
                continue
            for domain in bound_domains(snapshot, virtual_service, bound):
                if (virtual_service.full_name, domain) in added:
                    continue
                added.add((virtual_service.full_name, domain))
                routes_by_domain.setdefault(domain, []).extend(
                    _server_routes(snapshot, node, port, virtual_service, bound)
                )
    return tuple(
        VirtualHost(f"{domain}:{port}", _domains(domain, port), tuple(routes))
        for domain, routes in routes_by_domain.items()
        if routes
    )


def bound_domains(snapshot: Snapshot, virtual_service: Resource, bound: BoundServer) -> list[str]:
    """The names under which a VirtualService is served by one server (the narrower of the two hosts)."""
    domains: list[str] = []
    for server_host in f.strings(bound.server.get("hosts")):
        namespace, dns = split_namespaced_host(server_host, bound.gateway.namespace)
        if namespace not in ("*", virtual_service.namespace):
            continue
        for host in f.strings(virtual_service.spec.get("hosts")):
            fqdn = snapshot.fqdn(host, virtual_service.namespace)
            if not matches(fqdn, dns):
                continue
            domain = fqdn if subset_of(fqdn, dns) else dns
            if domain not in domains:
                domains.append(domain)
    return domains


def _server_routes(
    snapshot: Snapshot, node: Node, port: int, virtual_service: Resource, bound: BoundServer
) -> tuple[Route, ...]:
    if f.boolean(bound.tls.get("httpsRedirect")) is True:
        return (
            Route(name="https_redirect", redirect=Redirect(scheme="https", response_code=301), retry=None),
        )
    return http_routes(virtual_service, RouteContext(snapshot, node, port, gateway=bound.gateway_key))


def _domains(domain: str, port: int) -> tuple[str, ...]:
    return (domain,) if domain == "*" else (domain, f"{domain}:{port}")
