"""Per-proxy config: pure functions of a snapshot and a proxy's Node.

`build_proxy_config(snapshot, node)` is everything a proxy needs; `build_load_assignments(snapshot, node)`
is only its endpoints — exactly the `endpoints` a full build would give — for endpoint-only pushes.
"""

from __future__ import annotations

from ...xds import ClusterLoadAssignment, Node, ProxyConfig, Telemetry
from ..snapshot import Snapshot
from .gateway import gateway_load_assignments, gateway_parts
from .security import authorization_policies
from .sidecar import sidecar_load_assignments, sidecar_parts

__all__ = ["build_load_assignments", "build_proxy_config"]


def build_proxy_config(snapshot: Snapshot, node: Node) -> ProxyConfig:
    if node.type == "gateway":
        listeners, route_configs, clusters, assignments = gateway_parts(snapshot, node)
    else:
        listeners, route_configs, clusters, assignments = sidecar_parts(snapshot, node)
    return ProxyConfig(
        version=snapshot.version,
        node=node,
        listeners=tuple(listeners),
        route_configs=tuple(route_configs),
        clusters=tuple(clusters),
        endpoints=tuple(assignments),
        authorization=authorization_policies(snapshot, node.namespace, node.labels),
        telemetry=Telemetry(
            trace_sampling=snapshot.settings.trace_sampling, zipkin_address=snapshot.settings.zipkin_address
        ),
        trust_domain=snapshot.settings.trust_domain,
    )


def build_load_assignments(snapshot: Snapshot, node: Node) -> tuple[ClusterLoadAssignment, ...]:
    if node.type == "gateway":
        return tuple(gateway_load_assignments(snapshot, node))
    return tuple(sidecar_load_assignments(snapshot, node))
