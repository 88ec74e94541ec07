"""An immutable snapshot of the store and the registry: what every per-proxy config is built from.

Built once per change (Istio's PushContext), shared by every builder, never changed: documents are frozen,
indexes are computed here once. Kubernetes Services and ServiceEntry hosts both become `MeshService`s, the
one notion of a destination the builders know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..resources import Resource
from ..resources import fields as f
from ..resources import kinds as k
from ..resources.hosts import DEFAULT_CLUSTER_DOMAIN, to_fqdn
from ..resources.kinds import Kind
from .registry import (
    Namespace,
    Service,
    ServicePort,
    Workload,
    namespace_from_record,
    protocol_of,
    service_from_object,
    workload_from_entry,
)
from .store import NamespaceRecord, StoredObject

#: The kinds the store accepts, by their bare name.
CONFIG_KINDS: Mapping[str, Kind] = MappingProxyType({kind.kind: kind for kind in k.MODELLED_KINDS})
REGISTRY_KINDS: Mapping[str, Kind] = MappingProxyType(
    {k.SERVICE.kind: k.SERVICE, k.WORKLOAD_ENTRY.kind: k.WORKLOAD_ENTRY}
)
EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo"
ALL_NAMESPACES = "*"


@dataclass(frozen=True, slots=True)
class MeshSettings:
    """Mesh-wide settings (the part of Istio's MeshConfig the builders use)."""

    trust_domain: str = "cluster.local"
    root_namespace: str = "istio-system"
    domain: str = DEFAULT_CLUSTER_DOMAIN
    #: ALLOW_ANY: unknown hosts pass through; REGISTRY_ONLY: they get a 502.
    outbound_traffic_policy: str = "ALLOW_ANY"
    #: MeshConfig defaultConfig.tracing: the Zipkin collector (`host:port`, "" none) and the sampling %.
    zipkin_address: str = ""
    trace_sampling: float = 1.0


@dataclass(frozen=True, slots=True)
class StaticEndpoint:
    """A ServiceEntry endpoint: an address (IP or DNS name) with named ports."""

    address: str
    ports: Mapping[str, int]
    labels: Mapping[str, str]
    service_account: str = ""
    weight: int = 1


@dataclass(frozen=True, slots=True)
class MeshService:
    """A destination host: a Kubernetes Service or one host of a ServiceEntry."""

    hostname: str
    namespace: str
    ports: tuple[ServicePort, ...]
    #: `Service default/reviews`, `ServiceEntry default/googleapis`.
    origin: str
    #: Workloads chosen by labels (a Service's selector, a ServiceEntry's workloadSelector); None: none.
    selector: Mapping[str, str] | None = None
    static_endpoints: tuple[StaticEndpoint, ...] = ()
    mesh_external: bool = False
    #: Istio's resolution: STATIC (endpoints known), DNS, DNS_ROUND_ROBIN, NONE (passthrough).
    resolution: str = "STATIC"
    export_to: frozenset[str] = frozenset({ALL_NAMESPACES})
    created_revision: int = 0

    def port(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.port == number), None)

    def visible_from(self, namespace: str) -> bool:
        return exported_to(self.export_to, namespace)


def exported_to(export_to: frozenset[str], namespace: str) -> bool:
    return ALL_NAMESPACES in export_to or namespace in export_to


def export_set(values: Sequence[str], own_namespace: str) -> frozenset[str]:
    """exportTo as a set: empty means every namespace, `.` the resource's own, `~` none."""
    if not values:
        return frozenset({ALL_NAMESPACES})
    return frozenset(own_namespace if v == "." else v for v in values if v != "~")


@dataclass(frozen=True)
class Snapshot:
    """Store + registry at one moment. Never changed; `version` names it in pushes."""

    revision: int
    registry_version: int
    settings: MeshSettings
    #: Istio config by bare kind name, oldest first (creation order decides conflicts, as in Istio).
    config: Mapping[str, tuple[Resource, ...]]
    namespaces: Mapping[str, Namespace]
    registry_services: tuple[Service, ...]
    workloads: tuple[Workload, ...]
    services: tuple[MeshService, ...] = ()
    services_by_host: Mapping[str, MeshService] = field(default_factory=dict)
    workloads_by_namespace: Mapping[str, tuple[Workload, ...]] = field(default_factory=dict)
    #: What builders derive from the snapshot alone, kept for the next proxy (a service port's endpoints are
    #: the same for every proxy): filled as they are first asked for, never changed after.
    derived: dict[object, object] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def version(self) -> str:
        return f"{self.revision}.{self.registry_version}"

    def of_kind(self, kind: Kind) -> tuple[Resource, ...]:
        return self.config.get(kind.kind, ())

    def service(self, hostname: str) -> MeshService | None:
        return self.services_by_host.get(hostname)

    def fqdn(self, host: str, namespace: str) -> str:
        return to_fqdn(host, namespace, self.settings.domain)


def build_snapshot(
    objects: Iterable[StoredObject],
    namespaces: Iterable[NamespaceRecord],
    proxy_workloads: Iterable[Workload],
    *,
    revision: int,
    registry_version: int,
    settings: MeshSettings | None = None,
) -> Snapshot:
    """Compile the store's documents and the connected proxies' workloads into a snapshot."""
    settings = settings or MeshSettings()
    config: dict[str, list[Resource]] = {name: [] for name in CONFIG_KINDS}
    services: list[Service] = []
    workloads: list[Workload] = []
    for stored in sorted(objects, key=lambda o: (o.created_revision, o.kind, o.namespace, o.name)):
        if stored.kind in CONFIG_KINDS:
            config[stored.kind].append(resource_from_object(stored))
        elif stored.kind == k.SERVICE.kind:
            services.append(service_from_object(stored))
        elif stored.kind == k.WORKLOAD_ENTRY.kind:
            workloads.append(workload_from_entry(stored))
    workloads += proxy_workloads
    mesh_services = [_from_service(s, settings.domain) for s in services]
    for entry in config[k.SERVICE_ENTRY.kind]:
        mesh_services += _from_service_entry(entry, settings.domain)
    by_host: dict[str, MeshService] = {}
    for service in mesh_services:
        by_host.setdefault(service.hostname, service)
    by_namespace: dict[str, list[Workload]] = {}
    for workload in workloads:
        by_namespace.setdefault(workload.namespace, []).append(workload)
    return Snapshot(
        revision=revision,
        registry_version=registry_version,
        settings=settings,
        config=MappingProxyType({kind: tuple(items) for kind, items in config.items()}),
        namespaces=MappingProxyType({n.name: namespace_from_record(n) for n in namespaces}),
        registry_services=tuple(services),
        workloads=tuple(workloads),
        services=tuple(mesh_services),
        services_by_host=MappingProxyType(by_host),
        workloads_by_namespace=MappingProxyType({ns: tuple(ws) for ns, ws in by_namespace.items()}),
    )


def resource_from_object(stored: StoredObject) -> Resource:
    """A stored document as the config model's Resource (its body stays frozen)."""
    kind = CONFIG_KINDS.get(stored.kind) or REGISTRY_KINDS.get(stored.kind) or k.by_name(stored.kind)
    if kind is None:
        raise ValueError(f"unknown kind {stored.kind}")
    metadata = f.mapping(stored.body.get("metadata"))
    return Resource(
        kind=kind,
        api_version=f.text(stored.body.get("apiVersion")),
        name=stored.name,
        namespace=stored.namespace,
        labels=MappingProxyType(f.string_map(metadata.get("labels"))),
        annotations=MappingProxyType(f.string_map(metadata.get("annotations"))),
        body=stored.body,
    )


def _from_service(service: Service, domain: str) -> MeshService:
    exported = [v.strip() for v in service.annotations.get(EXPORT_TO_ANNOTATION, "").split(",") if v.strip()]
    return MeshService(
        hostname=service.hostname(domain),
        namespace=service.namespace,
        ports=service.ports,
        origin=f"Service {service.namespace}/{service.name}",
        # A Service without a selector has no endpoints the registry can find (as in Kubernetes).
        selector=service.selector or None,
        export_to=export_set(exported, service.namespace),
        created_revision=service.created_revision,
    )


def _from_service_entry(entry: Resource, domain: str) -> list[MeshService]:
    spec = entry.spec
    ports = tuple(_entry_port(p) for p in f.mappings(spec.get("ports")) if f.integer(p.get("number")))
    selector_labels = f.string_map(f.mapping(spec.get("workloadSelector")).get("labels"))
    endpoints = tuple(_static_endpoint(e) for e in f.mappings(spec.get("endpoints")))
    location = f.text(spec.get("location"), "MESH_EXTERNAL")
    resolution = f.text(spec.get("resolution"), "NONE")
    export_to = export_set(f.strings(spec.get("exportTo")), entry.namespace)
    return [
        MeshService(
            hostname=to_fqdn(host, entry.namespace, domain),
            namespace=entry.namespace,
            ports=ports,
            origin=f"ServiceEntry {entry.full_name}",
            selector=selector_labels or None,
            static_endpoints=endpoints,
            mesh_external=location != "MESH_INTERNAL",
            resolution=resolution,
            export_to=export_to,
        )
        for host in f.strings(spec.get("hosts"))
    ]


def _entry_port(port: Mapping[str, Any]) -> ServicePort:
    number = f.integer(port.get("number")) or 0
    name = f.text(port.get("name"))
    protocol = f.text(port.get("protocol")).upper()
    known = {value.upper(): value for value in ("HTTP", "HTTP2", "HTTPS", "GRPC", "GRPC-Web", "TCP", "TLS")}
    return ServicePort(
        name,
        number,
        f.integer(port.get("targetPort")) or number,
        known.get(protocol, protocol_of(name)),
    )


def _static_endpoint(endpoint: Mapping[str, Any]) -> StaticEndpoint:
    ports = {key: v for key, v in f.mapping(endpoint.get("ports")).items() if isinstance(v, int)}
    return StaticEndpoint(
        address=f.text(endpoint.get("address")),
        ports=MappingProxyType(ports),
        labels=MappingProxyType(f.string_map(endpoint.get("labels"))),
        service_account=f.text(endpoint.get("serviceAccount")),
        weight=f.integer(endpoint.get("weight")) or 1,
    )
