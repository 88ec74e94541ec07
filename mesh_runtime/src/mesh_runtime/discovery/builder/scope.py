"""What a proxy sees: the services exported to its namespace, narrowed by the Sidecar resource that applies
to it (egress hosts, outbound traffic policy), and the VirtualServices bound to the mesh.

Sidecar resource precedence is Istio's: one in the proxy's namespace selecting its labels, else the one in
its namespace without a selector, else the root namespace's without a selector; the oldest among equals.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...resources import Resource
from ...resources import fields as f
from ...resources import kinds as k
from ...resources.hosts import MESH_GATEWAY, matches, split_namespaced_host, subset_of
from ...xds import Node
from ..snapshot import ALL_NAMESPACES, MeshService, Snapshot, export_set, exported_to
from .routes import resolve_gateway

EXCLUDED_NAMESPACE = "~"


@dataclass(frozen=True, slots=True)
class EgressScope:
    """The hosts a sidecar may reach (`(namespace, dnsName)` pairs; None: every host) and what happens to
    the others (ALLOW_ANY or REGISTRY_ONLY)."""

    hosts: tuple[tuple[str, str], ...] | None = None
    outbound_traffic_policy: str = "ALLOW_ANY"
    #: The Sidecar resource that shaped this scope (`ns/name`), "" for none.
    origin: str = ""

    def includes(self, service: MeshService) -> bool:
        if self.hosts is None:
            return True
        return any(
            namespace in (ALL_NAMESPACES, service.namespace)
            and (dns == "*" or matches(service.hostname, dns))
            for namespace, dns in self.hosts
        )


def sidecar_resource(snapshot: Snapshot, node: Node) -> Resource | None:
    sidecars = snapshot.of_kind(k.SIDECAR)
    own = [s for s in sidecars if s.namespace == node.namespace]
    for sidecar in own:
        selector = f.string_map(f.mapping(sidecar.spec.get("workloadSelector")).get("labels"))
        if selector and f.labels_match(selector, node.labels):
            return sidecar
    for candidates in (own, [s for s in sidecars if s.namespace == snapshot.settings.root_namespace]):
        for sidecar in candidates:
            if not f.mapping(sidecar.spec.get("workloadSelector")):
                return sidecar
    return None


def egress_scope(snapshot: Snapshot, node: Node) -> EgressScope:
    default_policy = snapshot.settings.outbound_traffic_policy
    sidecar = sidecar_resource(snapshot, node) if node.type == "sidecar" else None
    if sidecar is None:
        return EgressScope(outbound_traffic_policy=default_policy)
    policy = f.text(f.mapping(sidecar.spec.get("outboundTrafficPolicy")).get("mode")) or default_policy
    listeners = f.mappings(sidecar.spec.get("egress"))
    if not listeners:
        return EgressScope(outbound_traffic_policy=policy, origin=sidecar.full_name)
    hosts: list[tuple[str, str]] = []
    for listener in listeners:
        for host in f.strings(listener.get("hosts")):
            namespace, dns = split_namespaced_host(host, sidecar.namespace)
            if namespace != EXCLUDED_NAMESPACE and (namespace, dns) not in hosts:
                hosts.append((namespace, dns))
    return EgressScope(tuple(hosts), policy, sidecar.full_name)


def visible_services(snapshot: Snapshot, node: Node, scope: EgressScope | None = None) -> list[MeshService]:
    """The services a proxy gets clusters for: exported to its namespace and within its egress scope."""
    return [
        s
        for s in snapshot.services
        if s.visible_from(node.namespace) and (scope is None or scope.includes(s)) and s.ports
    ]


def mesh_virtual_services(snapshot: Snapshot, node: Node) -> list[Resource]:
    """VirtualServices that apply to sidecars in the proxy's namespace: exported to it and bound to
    `mesh`; those in the proxy's own namespace first, then the rest, each oldest first."""
    found = [
        vs
        for vs in snapshot.of_kind(k.VIRTUAL_SERVICE)
        if exported_to(export_set(f.strings(vs.spec.get("exportTo")), vs.namespace), node.namespace)
        and MESH_GATEWAY in bound_gateways(vs)
    ]
    return [vs for vs in found if vs.namespace == node.namespace] + [
        vs for vs in found if vs.namespace != node.namespace
    ]


def bound_gateways(virtual_service: Resource) -> set[str]:
    """The gateways a VirtualService applies to (`mesh` when it names none), as `ns/name`."""
    names = f.strings(virtual_service.spec.get("gateways")) or (MESH_GATEWAY,)
    return {resolve_gateway(name, virtual_service.namespace) for name in names}


def virtual_service_for(snapshot: Snapshot, hostname: str, candidates: list[Resource]) -> Resource | None:
    """The VirtualService for a host: the first naming it exactly, else the most specific wildcard."""
    best: Resource | None = None
    best_length = -1
    for vs in candidates:
        for host in f.strings(vs.spec.get("hosts")):
            fqdn = snapshot.fqdn(host, vs.namespace)
            if fqdn == hostname:
                return vs
            if fqdn.startswith("*") and subset_of(hostname, fqdn) and len(fqdn) > best_length:
                best, best_length = vs, len(fqdn)
    return best
