"""The service registry: namespaces, services and workloads, as immutable values.

Services come from applied Kubernetes `Service` documents (ports, selector, labels). Workloads come from two
places: proxies register their own workload when they connect (healthy while connected), and workloads
without a sidecar are applied as Istio `WorkloadEntry` documents by whoever deploys them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ..resources import fields as f
from ..resources.hosts import DEFAULT_CLUSTER_DOMAIN
from ..xds import Node
from .store import NamespaceRecord, StoredObject

SERVICE_KIND = "Service"
WORKLOAD_ENTRY_KIND = "WorkloadEntry"
#: Istio's protocols, as port names (`http-web`) and appProtocol spell them.
KNOWN_PROTOCOLS = {
    "http": "HTTP",
    "http2": "HTTP2",
    "https": "HTTPS",
    "grpc": "GRPC",
    "grpc-web": "GRPC-Web",
    "tcp": "TCP",
    "tls": "TLS",
    "mongo": "Mongo",
    "mysql": "MySQL",
    "redis": "Redis",
    "udp": "UDP",
}
#: Protocols the proxies route as HTTP (an unknown protocol is sniffed as HTTP by Istio; so here).
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTP2", "GRPC", "GRPC-Web", ""})
WorkloadKind = Literal["sidecar", "gateway", "WorkloadEntry"]
_NO_LABELS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str
    port: int
    #: The workload port: a number, or the name of a workload port (WorkloadEntry `ports`).
    target_port: int | str
    #: Istio's protocol for the port (HTTP, HTTP2, GRPC, TCP, TLS…), "" when it has to be sniffed.
    protocol: str = ""

    @property
    def is_http(self) -> bool:
        return self.protocol in HTTP_PROTOCOLS


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    ports: tuple[ServicePort, ...]
    selector: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)
    annotations: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)
    created_revision: int = 0

    def hostname(self, domain: str = DEFAULT_CLUSTER_DOMAIN) -> str:
        return f"{self.name}.{self.namespace}.svc.{domain}"


@dataclass(frozen=True, slots=True)
class Workload:
    """One instance of a workload: a proxy's own workload, or a WorkloadEntry."""

    #: Unique in the registry: the proxy's node id, or `<name>.<namespace>` of a WorkloadEntry.
    id: str
    name: str
    namespace: str
    service_account: str
    labels: Mapping[str, str]
    address: str
    kind: WorkloadKind
    #: Named ports (WorkloadEntry `ports`): a service port of that name goes there.
    ports: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    #: Sidecars: application port → the sidecar's inbound (mTLS) listener port in front of it.
    inbound_ports: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    has_sidecar: bool = False
    proxy_version: str = ""
    healthy: bool = True
    weight: int = 1
    admin_port: int = 0
    #: The host a proxy runs on (its Node's node_name); "" for a WorkloadEntry or a proxy that did not say.
    node_name: str = ""

    def endpoint_port(self, service_port: ServicePort) -> int | None:
        """Where this workload receives traffic for `service_port`; None when it does not serve it."""
        target = service_port.target_port
        if self.kind == "sidecar":
            if isinstance(target, int) and target in self.inbound_ports:
                return self.inbound_ports[target]
            # Workloads sharing a host cannot all listen on the port a Service targets (as pods in their
            # own network namespaces do): a sidecar in front of a single application serves every port.
            if len(self.inbound_ports) == 1:
                return next(iter(self.inbound_ports.values()))
            return None
        named = self.ports.get(service_port.name) if service_port.name else None
        if named is not None:
            return named
        if isinstance(target, str):
            return self.ports.get(target)
        return target


def protocol_of(name: str, app_protocol: str = "") -> str:
    """Istio's protocol selection: appProtocol, else the port name's prefix (`http-web` → HTTP)."""
    for candidate in (app_protocol.lower(), name.lower(), name.lower().split("-", 1)[0]):
        if candidate in KNOWN_PROTOCOLS:
            return KNOWN_PROTOCOLS[candidate]
    return ""


def namespace_from_record(record: NamespaceRecord) -> Namespace:
    return Namespace(record.name, MappingProxyType(dict(record.labels)))


def service_from_object(stored: StoredObject) -> Service:
    """A registry Service from an applied `v1 Service` document (validated when it was applied)."""
    metadata = f.mapping(stored.body.get("metadata"))
    spec = f.mapping(stored.body.get("spec"))
    ports = tuple(_service_port(p) for p in f.mappings(spec.get("ports")) if f.integer(p.get("port")))
    return Service(
        namespace=stored.namespace,
        name=stored.name,
        ports=ports,
        selector=MappingProxyType(f.string_map(spec.get("selector"))),
        labels=MappingProxyType(f.string_map(metadata.get("labels"))),
        annotations=MappingProxyType(f.string_map(metadata.get("annotations"))),
        created_revision=stored.created_revision,
    )


def _service_port(port: Mapping[str, Any]) -> ServicePort:
    number = f.integer(port.get("port")) or 0
    target: int | str = number
    raw_target = port.get("targetPort")
    if isinstance(raw_target, int) and not isinstance(raw_target, bool):
        target = raw_target
    elif isinstance(raw_target, str) and raw_target:
        target = int(raw_target) if raw_target.isdigit() else raw_target
    name = f.text(port.get("name"))
    return ServicePort(name, number, target, protocol_of(name, f.text(port.get("appProtocol"))))


def workload_from_entry(stored: StoredObject) -> Workload:
    """A workload without a sidecar, from an applied Istio `WorkloadEntry`."""
    metadata = f.mapping(stored.body.get("metadata"))
    spec = f.mapping(stored.body.get("spec"))
    labels = {**f.string_map(metadata.get("labels")), **f.string_map(spec.get("labels"))}
    ports = {k: v for k, v in f.mapping(spec.get("ports")).items() if isinstance(v, int)}
    return Workload(
        id=f"{stored.name}.{stored.namespace}",
        name=stored.name,
        namespace=stored.namespace,
        service_account=f.text(spec.get("serviceAccount")) or "default",
        labels=MappingProxyType(labels),
        address=f.text(spec.get("address")),
        kind="WorkloadEntry",
        ports=MappingProxyType(ports),
        has_sidecar=False,
        healthy=True,
        weight=f.integer(spec.get("weight")) or 1,
    )


def inbound_ports(node: Node) -> dict[int, int]:
    """A sidecar's inbound listeners: application port → listener port.

    The first application port is served on `node.inbound_port`, the next on the port after it, and so on
    (a launcher that gives a sidecar several application ports reserves that many inbound ports).
    """
    if node.type != "sidecar" or not node.inbound_port:
        return {}
    return {app_port: node.inbound_port + index for index, app_port in enumerate(node.app_ports)}


def workload_from_node(node: Node, healthy: bool = True) -> Workload:
    """The workload a connected proxy registers (a sidecar's, or a gateway's)."""
    suffix = f".{node.namespace}"
    name = node.id[: -len(suffix)] if node.id.endswith(suffix) else node.id
    return Workload(
        id=node.id,
        name=name,
        namespace=node.namespace,
        service_account=node.service_account,
        labels=MappingProxyType(dict(node.labels)),
        address=node.address,
        kind=node.type,
        inbound_ports=MappingProxyType(inbound_ports(node)),
        # A sidecar answers with mTLS on its inbound listeners; a gateway serves its servers' protocols.
        has_sidecar=node.type == "sidecar",
        proxy_version=node.proxy_version,
        healthy=healthy,
        admin_port=node.admin_port,
        node_name=node.node_name,
    )
