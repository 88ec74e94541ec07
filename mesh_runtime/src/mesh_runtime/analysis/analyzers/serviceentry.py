"""serviceentry.*: Istio's ServiceEntry analyzers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ...resources import Resource
from ...resources.fields import mapping, sequence
from ...resources.kinds import SERVICE_ENTRY
from ..context import AnalysisContext
from ..meshconfig import MeshConfig
from ..message_catalogue import by_name
from .base import analyzer, field_path
from .workloads import port_number

SERVICE_ENTRY_ADDRESSES_REQUIRED = by_name("ServiceEntryAddressesRequired")
CONFLICTING_SERVICE_ENTRY_PROTOCOL = by_name("ConflictingServiceEntryProtocol")

EXPORT_TO_ALL = "*"
EXPORT_TO_OWN_NAMESPACE = "."


@analyzer("serviceentry.Analyzer", "Checks the validity of ServiceEntry", (SERVICE_ENTRY,))
def protocol_addresses(context: AnalysisContext) -> None:
    if addresses_auto_allocated(context.mesh_config):
        return
    for entry in context.each(SERVICE_ENTRY):
        if sequence(entry.spec.get("addresses")) or _status_addresses(entry):
            continue
        for index, port in enumerate(sequence(entry.spec.get("ports"))):
            protocol = mapping(port).get("protocol")
            # TCP (named, or left out) cannot be told apart by host: without an address, the port is all
            # the proxy has to route on.
            if protocol in (None, "") or (isinstance(protocol, str) and protocol.upper() == "TCP"):
                context.report(
                    SERVICE_ENTRY_ADDRESSES_REQUIRED(
                        entry, field_path=field_path("spec", "ports", index, "name")
                    )
                )


def addresses_auto_allocated(mesh_config: MeshConfig) -> bool:
    """Whether proxies capture DNS and addresses are allocated for ServiceEntries automatically.

    Both come from the mesh's default proxy metadata: `ISTIO_META_DNS_CAPTURE` must be "true", and
    `ISTIO_META_DNS_AUTO_ALLOCATE` or `PILOT_ENABLE_IP_AUTOALLOCATE` too.
    """
    metadata = mapping(mesh_config.default_config.get("proxyMetadata"))
    if metadata.get("ISTIO_META_DNS_CAPTURE") != "true":
        return False
    return "true" in (
        metadata.get("ISTIO_META_DNS_AUTO_ALLOCATE"),
        metadata.get("PILOT_ENABLE_IP_AUTOALLOCATE"),
    )


def _status_addresses(entry: Resource) -> list[object]:
    """Addresses the control plane allocated and wrote to the ServiceEntry's status."""
    return list(sequence(mapping(entry.body.get("status")).get("addresses")))


@dataclass(frozen=True, slots=True)
class _ScopedHostPort:
    #: A namespace the ServiceEntry is exported to, or `*`.
    scope: str
    host: str
    port: int


@analyzer(
    "serviceentry.ConflictingServiceEntryProtocolAnalyzer",
    "Checks if multiple ServiceEntries define the same host and port with different protocols",
    (SERVICE_ENTRY,),
)
def conflicting_protocols(context: AnalysisContext) -> None:
    # Every (protocol, ServiceEntry) declaring each host and port in each scope, in reading order.
    index: dict[_ScopedHostPort, list[tuple[str, Resource]]] = {}
    for entry in context.each(SERVICE_ENTRY):
        for key, protocol in _host_ports(entry):
            index.setdefault(key, []).append((protocol, entry))

    reported: set[str] = set()
    for key, declarations in index.items():
        entries = list(declarations)
        if key.scope != EXPORT_TO_ALL:
            # What is exported everywhere is also visible in this namespace.
            entries += index.get(_ScopedHostPort(EXPORT_TO_ALL, key.host, key.port), [])
        protocols = sorted({protocol.upper() for protocol, _ in entries})
        if len(protocols) < 2:
            continue
        names = ", ".join(sorted({entry.full_name for _, entry in entries}))
        for _, entry in entries:
            if entry.full_name in reported:
                continue
            reported.add(entry.full_name)
            context.report(
                CONFLICTING_SERVICE_ENTRY_PROTOCOL(
                    entry,
                    names,
                    key.host,
                    key.port,
                    ", ".join(protocols),
                    field_path=field_path("metadata", "name"),
                )
            )


def _host_ports(entry: Resource) -> Iterator[tuple[_ScopedHostPort, str]]:
    """Every (scope, host, port) the ServiceEntry declares, with the port's protocol as written."""
    ports = [p for p in sequence(entry.spec.get("ports")) if isinstance(p, Mapping)]
    for scope in _export_scopes(entry):
        for host in sequence(entry.spec.get("hosts")):
            if not isinstance(host, str):
                continue
            for port in ports:
                protocol = port.get("protocol")
                yield (
                    _ScopedHostPort(scope, host, port_number(port, "number")),
                    protocol if isinstance(protocol, str) else "",
                )


def _export_scopes(entry: Resource) -> list[str]:
    """The namespaces a ServiceEntry is visible in (`.` is its own), or just `*` when exported to all."""
    export_to = [e for e in sequence(entry.spec.get("exportTo")) if isinstance(e, str)]
    if not export_to or EXPORT_TO_ALL in export_to:
        return [EXPORT_TO_ALL]
    scopes: list[str] = []
    for target in export_to:
        scope = entry.namespace if target == EXPORT_TO_OWN_NAMESPACE else target
        if scope not in scopes:
            scopes.append(scope)
    return scopes
