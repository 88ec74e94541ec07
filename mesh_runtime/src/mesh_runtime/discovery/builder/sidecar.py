"""A sidecar's config: the outbound HTTP proxy (one route configuration per service port, chosen by the port
the application asks for), the inbound mTLS listeners in front of the application, clusters, endpoints and
the authorization policies that select the workload.
"""

from __future__ import annotations

from ...xds import (
    Cluster,
    ClusterLoadAssignment,
    DirectResponse,
    Listener,
    Node,
    Route,
    RouteConfiguration,
    VirtualHost,
    WeightedCluster,
    cluster_name,
)
from ..registry import inbound_ports
from ..snapshot import MeshService, Snapshot
from . import clusters as c
from . import endpoints as e
from . import scope as s
from . import security
from .routes import RouteContext, default_route, http_routes

OUTBOUND_LISTENER = "outbound"
LOOPBACK = "127.0.0.1"
REGISTRY_ONLY = "REGISTRY_ONLY"


def outbound_clusters(snapshot: Snapshot, node: Node, services: list[MeshService]) -> list[Cluster]:
    found: list[Cluster] = []
    for service in services:
        found += c.service_clusters(service, c.destination_rule_for(snapshot, node, service.hostname))
    return found


def outbound_load_assignments(
    snapshot: Snapshot, node: Node, services: list[MeshService]
) -> list[ClusterLoadAssignment]:
    found: list[ClusterLoadAssignment] = []
    for service in services:
        found += e.service_load_assignments(snapshot, node, service)
    return found


def outbound_route_configs(
    snapshot: Snapshot, node: Node, services: list[MeshService], scope: s.EgressScope
) -> list[RouteConfiguration]:
    """One route configuration per HTTP port, named by the port: a virtual host per service on that port
    (routes from its VirtualService, else everything to its cluster), then the catch-all host."""
    candidates = s.mesh_virtual_services(snapshot, node)
    ports = sorted({p.port for service in services for p in service.ports if p.is_http})
    configs: list[RouteConfiguration] = []
    for port in ports:
        context = RouteContext(snapshot, node, port)
        hosts: list[VirtualHost] = []
        for service in services:
            service_port = service.port(port)
            if service_port is None or not service_port.is_http:
                continue
            virtual_service = s.virtual_service_for(snapshot, service.hostname, candidates)
            routes = http_routes(virtual_service, context) if virtual_service is not None else ()
            if not routes:
                routes = (default_route(cluster_name("outbound", port, "", service.hostname)),)
            hosts.append(
                VirtualHost(f"{service.hostname}:{port}", service_domains(service, port, node), routes)
            )
        hosts.append(catch_all_host(scope.outbound_traffic_policy))
        configs.append(RouteConfiguration(str(port), tuple(hosts)))
    return configs


def service_domains(service: MeshService, port: int, node: Node) -> tuple[str, ...]:
    """The names an application may use for a service: the FQDN, shorter Kubernetes forms (the bare name
    only from the service's own namespace), each alone and with the port."""
    names = [service.hostname]
    if service.origin.startswith("Service "):
        short, namespace = service.hostname.split(".")[:2]
        names += [f"{short}.{namespace}.svc", f"{short}.{namespace}"]
        if namespace == node.namespace:
            names.append(short)
    return tuple(name for base in names for name in (base, f"{base}:{port}"))


def catch_all_host(outbound_traffic_policy: str) -> VirtualHost:
    """Hosts the mesh does not know: passed through (ALLOW_ANY) or refused with a 502 (REGISTRY_ONLY)."""
    if outbound_traffic_policy == REGISTRY_ONLY:
        route = Route(name="block_all", direct_response=DirectResponse(502), retry=None)
        return VirtualHost("block_all", ("*",), (route,))
    route = Route(name="allow_any", clusters=(WeightedCluster(c.PASSTHROUGH_CLUSTER, 100),), retry=None)
    return VirtualHost("allow_any", ("*",), (route,))


def inbound_listeners(snapshot: Snapshot, node: Node) -> list[Listener]:
    policy = security.peer_authentication(snapshot, node.namespace, node.labels)
    return [
        Listener(
            name=f"inbound|{app_port}",
            direction="inbound",
            address=node.address,
            port=listener_port,
            app_port=app_port,
            peer_authentication=security.for_port(policy, app_port),
        )
        for app_port, listener_port in inbound_ports(node).items()
    ]


def outbound_listener(node: Node) -> list[Listener]:
    if not node.outbound_port:
        return []
    return [Listener(name=OUTBOUND_LISTENER, direction="outbound", address=LOOPBACK, port=node.outbound_port)]


def sidecar_parts(
    snapshot: Snapshot, node: Node
) -> tuple[list[Listener], list[RouteConfiguration], list[Cluster], list[ClusterLoadAssignment]]:
    scope = s.egress_scope(snapshot, node)
    services = s.visible_services(snapshot, node, scope)
    special = (
        c.blackhole_cluster() if scope.outbound_traffic_policy == REGISTRY_ONLY else c.passthrough_cluster()
    )
    clusters = outbound_clusters(snapshot, node, services) + [special]
    assignments = outbound_load_assignments(snapshot, node, services)
    for app_port in inbound_ports(node):
        clusters.append(c.inbound_cluster(app_port))
        assignments.append(e.inbound_load_assignment(app_port))
    listeners = outbound_listener(node) + inbound_listeners(snapshot, node)
    return listeners, outbound_route_configs(snapshot, node, services, scope), clusters, assignments


def sidecar_load_assignments(snapshot: Snapshot, node: Node) -> list[ClusterLoadAssignment]:
    """Only the endpoints (what an endpoint-only push sends): the same as `sidecar_parts` computes."""
    services = s.visible_services(snapshot, node, s.egress_scope(snapshot, node))
    assignments = outbound_load_assignments(snapshot, node, services)
    assignments += [e.inbound_load_assignment(app_port) for app_port in inbound_ports(node)]
    return assignments
