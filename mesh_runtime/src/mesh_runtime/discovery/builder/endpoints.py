"""Endpoints: the workloads behind each cluster, chosen here (subset labels included), with identity,
sidecar and health, so the proxy only balances.

An endpoint "has a sidecar" when it answers with the mesh's mTLS: a sidecar's inbound listener, unless the
workload's PeerAuthentication disables mTLS on that port (then, as Istio's auto mTLS does, clients send
plaintext); a gateway's server port when the server terminates ISTIO_MUTUAL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ...resources import fields as f
from ...resources import kinds as k
from ...xds import ClusterLoadAssignment, Endpoint, Node, cluster_name
from ..registry import ServicePort, Workload
from ..snapshot import MeshService, Snapshot, StaticEndpoint
from . import clusters as c
from . import security

_RESOLVED_BY_NAME = frozenset({"DNS", "DNS_ROUND_ROBIN", "NONE", "DYNAMIC_DNS"})


def spiffe_identity(trust_domain: str, namespace: str, service_account: str) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def service_load_assignments(
    snapshot: Snapshot, node: Node, service: MeshService
) -> list[ClusterLoadAssignment]:
    """The endpoints of every cluster of a service: each port, and each port of each subset."""
    rule = c.destination_rule_for(snapshot, node, service.hostname)
    assignments: list[ClusterLoadAssignment] = []
    for port in service.ports:
        everyone = service_endpoints(snapshot, service, port)
        assignments.append(
            ClusterLoadAssignment(cluster_name("outbound", port.port, "", service.hostname), everyone)
        )
        for subset in c.subsets(rule):
            labels = f.string_map(subset.get("labels"))
            chosen = tuple(e for e in everyone if f.labels_match(labels, e.labels))
            name = cluster_name("outbound", port.port, f.text(subset.get("name")), service.hostname)
            assignments.append(ClusterLoadAssignment(name, chosen))
    return assignments


def service_endpoints(snapshot: Snapshot, service: MeshService, port: ServicePort) -> tuple[Endpoint, ...]:
    """Every endpoint of one service port, healthy or not, in a stable order. The same for every proxy:
    built once per snapshot (kept in `snapshot.derived`, beside the service it belongs to)."""
    key = ("endpoints", id(service), port.name, port.port)
    known = snapshot.derived.get(key)
    if known is not None:
        return known[1]  # type: ignore[index,no-any-return]
    endpoints = _service_endpoints(snapshot, service, port)
    snapshot.derived[key] = (service, endpoints)  # the service kept alive: its id stays its own
    return endpoints


def _service_endpoints(snapshot: Snapshot, service: MeshService, port: ServicePort) -> tuple[Endpoint, ...]:
    found: list[Endpoint] = []
    if service.selector is not None:
        candidates = _candidates(snapshot, service.namespace, service.selector)
        found += _workload_endpoints(snapshot, candidates, service.selector, port)
    found += [_static(snapshot, service, e, port) for e in service.static_endpoints]
    if (
        not found
        and service.selector is None
        and service.resolution in _RESOLVED_BY_NAME
        and not service.hostname.startswith("*")
    ):
        # A DNS (or passthrough) host without endpoints: the proxy connects to the name itself.
        target = port.target_port if isinstance(port.target_port, int) else port.port
        found.append(Endpoint(address=service.hostname, port=target, has_sidecar=False))
    return tuple(sorted(found, key=lambda e: (e.namespace, e.workload, e.address, e.port)))


def _candidates(snapshot: Snapshot, namespace: str, selector: Mapping[str, str]) -> tuple[Workload, ...]:
    """The namespace's workloads that carry the selector's first label (all of them for an empty selector),
    from an index by label built once per snapshot and namespace; the caller matches the rest."""
    workloads = snapshot.workloads_by_namespace.get(namespace, ())
    if not selector:
        return workloads
    key = ("workloads by label", namespace)
    index = snapshot.derived.get(key)
    if index is None:
        built: dict[tuple[str, str], list[Workload]] = {}
        for workload in workloads:
            for label in workload.labels.items():
                built.setdefault(label, []).append(workload)
        index = snapshot.derived[key] = {label: tuple(found) for label, found in built.items()}
    assert isinstance(index, dict)
    first = next(iter(selector.items()))
    found: tuple[Workload, ...] = index.get(first, ())
    return found


def _workload_endpoints(
    snapshot: Snapshot, workloads: Iterable[Workload], selector: Mapping[str, str], port: ServicePort
) -> list[Endpoint]:
    endpoints: list[Endpoint] = []
    for workload in workloads:
        if not f.labels_match(selector, workload.labels) or not workload.address:
            continue
        endpoint_port = workload.endpoint_port(port)
        if endpoint_port is None:
            continue
        endpoints.append(
            Endpoint(
                address=workload.address,
                port=endpoint_port,
                labels=dict(workload.labels),
                identity=spiffe_identity(
                    snapshot.settings.trust_domain, workload.namespace, workload.service_account
                ),
                has_sidecar=_speaks_mtls(snapshot, workload, port),
                healthy=workload.healthy,
                weight=workload.weight,
                workload=workload.name,
                namespace=workload.namespace,
            )
        )
    return endpoints


def _speaks_mtls(snapshot: Snapshot, workload: Workload, port: ServicePort) -> bool:
    """Whether the workload answers this port with the mesh's mTLS: a sidecar unless PeerAuthentication
    disables it there; a gateway when its server on the port terminates ISTIO_MUTUAL."""
    if workload.kind == "gateway":
        return _gateway_terminates_istio_mutual(snapshot, workload, port.port)
    if not workload.has_sidecar:
        return False
    policy = security.peer_authentication(snapshot, workload.namespace, workload.labels)
    target = port.target_port
    app_port = target if isinstance(target, int) and target in workload.inbound_ports else 0
    if not app_port and workload.inbound_ports:
        app_port = next(iter(workload.inbound_ports))
    return security.mode_for_port(policy, app_port) != "DISABLE"


def _gateway_terminates_istio_mutual(snapshot: Snapshot, workload: Workload, port: int) -> bool:
    for gateway in snapshot.of_kind(k.GATEWAY):
        if not f.labels_match(f.string_map(gateway.spec.get("selector")), workload.labels):
            continue
        for server in f.mappings(gateway.spec.get("servers")):
            number = f.integer(f.mapping(server.get("port")).get("number"))
            if number == port and f.text(f.mapping(server.get("tls")).get("mode")) == "ISTIO_MUTUAL":
                return True
    return False


def _static(
    snapshot: Snapshot, service: MeshService, endpoint: StaticEndpoint, port: ServicePort
) -> Endpoint:
    number = endpoint.ports.get(port.name) if port.name else None
    if number is None:
        number = port.target_port if isinstance(port.target_port, int) else port.port
    identity = (
        spiffe_identity(snapshot.settings.trust_domain, service.namespace, endpoint.service_account)
        if endpoint.service_account
        else ""
    )
    return Endpoint(
        address=endpoint.address,
        port=number,
        labels=dict(endpoint.labels),
        identity=identity,
        has_sidecar=False,
        weight=endpoint.weight,
        namespace=service.namespace,
    )


def inbound_load_assignment(app_port: int) -> ClusterLoadAssignment:
    """The inbound cluster's one endpoint: the application on loopback."""
    return ClusterLoadAssignment(
        cluster_name("inbound", app_port, "", ""),
        (Endpoint(address="127.0.0.1", port=app_port, has_sidecar=False),),
    )
