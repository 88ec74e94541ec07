"""gateway.*: Istio's Gateway analyzers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...resources import Resource
from ...resources.fields import mapping, sequence, strings
from ...resources.kinds import GATEWAY, POD, SECRET, SERVICE
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .base import analyzer, field_path, selector_matches, selector_text
from .credentials import credential_problem, now_utc

REFERENCED_RESOURCE_NOT_FOUND = by_name("ReferencedResourceNotFound")
GATEWAY_PORT_NOT_DEFINED_ON_SERVICE = by_name("GatewayPortNotDefinedOnService")
CONFLICTING_GATEWAYS = by_name("ConflictingGateways")
INVALID_GATEWAY_CREDENTIAL = by_name("InvalidGatewayCredential")
GATEWAY_DUPLICATE_CERTIFICATE = by_name("GatewayDuplicateCertificate")
NAME_PATH = field_path("metadata", "name")
#: Gateway server protocols whose servers on one port the gateway merges into one HTTP listener.
_HTTP_PROTOCOLS = frozenset({"HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB"})


def workload_selector(gateway: Resource) -> dict[str, str]:
    """A Gateway's `selector` as label strings (a key or value of another type is read as its text)."""
    return {
        str(key): "" if value is None else str(value)
        for key, value in mapping(gateway.spec.get("selector")).items()
    }


def selector_field_path(selector: Mapping[str, Any]) -> str | None:
    """The path of a selector's first label (sorted), whose line istioctl reports for selector messages."""
    return field_path("spec", "selector", sorted(selector)[0]) if selector else None


@analyzer(
    "gateway.IngressGatewayPortAnalyzer",
    "Checks a gateway's ports against the gateway's Kubernetes service ports",
    (GATEWAY, POD, SERVICE),
)
def ingress_gateway_port(context: AnalysisContext) -> None:
    for gateway in context.each(GATEWAY):
        _check_gateway_ports(context, gateway)


def _check_gateway_ports(context: AnalysisContext, gateway: Resource) -> None:
    selector = workload_selector(gateway)
    selector_string = selector_text(selector)
    line_field = selector_field_path(selector)
    pods = [pod for pod in context.each(POD) if selector_matches(selector, pod.labels)]
    if not pods:
        context.report(
            REFERENCED_RESOURCE_NOT_FOUND(gateway, "selector", selector_string, field_path=line_field)
        )
        return
    exposed = _ports_of_services_selecting(context, pods)
    for server in sequence(gateway.spec.get("servers")):
        port = mapping(server).get("port")
        if not isinstance(port, Mapping) or not isinstance(port.get("number"), int):
            continue
        if port["number"] not in exposed:
            context.report(
                GATEWAY_PORT_NOT_DEFINED_ON_SERVICE(
                    gateway, port["number"], selector_string, field_path=line_field
                )
            )


def _ports_of_services_selecting(context: AnalysisContext, pods: list[Resource]) -> set[int]:
    """The TCP ports and target ports of every Service that selects one of the pods (in its namespace)."""
    ports: set[int] = set()
    for pod in pods:
        for service in context.each(SERVICE):
            if service.namespace != pod.namespace:
                continue
            selector = mapping(service.spec.get("selector"))
            if not selector or not selector_matches(selector, pod.labels):
                continue
            for port in sequence(service.spec.get("ports")):
                port = mapping(port)
                if str(port.get("protocol") or "TCP") != "TCP":
                    continue
                for key in ("port", "targetPort"):
                    if isinstance(port.get(key), int):
                        ports.add(port[key])
    return ports


# --- gateway.ConflictingGatewayAnalyzer -----------------------------------------------------------------


@dataclass
class _Listeners:
    """The Gateways with one selector listening on one port, and the hosts (with their `bind`) of each."""

    selector: Mapping[str, Any]
    #: Gateway `ns/name` → host → (its server's `bind`, whether that server is plain HTTP).
    hosts_by_gateway: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=dict)


@analyzer(
    "gateway.ConflictingGatewayAnalyzer",
    "Checks a gateway's selector, port number and hosts",
    (GATEWAY, POD),
)
def conflicting_gateways(context: AnalysisContext) -> None:
    """IST0145: Gateways selecting the same workloads define one host (and `bind`) on one port.

    The same workloads: equal selectors, or one selector's text containing the other's and both matching
    one Pod. Hosts compare as written (`ns/` prefix included, no wildcard matching), as in Istio. Unlike
    istioctl, two plain HTTP servers do not conflict: the gateway merges them and serves the routes of
    both (istio/istio#17560); and all servers of a Gateway on one port count, not only the last one.
    """
    listeners = _listeners_by_selector_and_port(context)
    for gateway in context.each(GATEWAY):
        selector = workload_selector(gateway)
        text = selector_text(selector)
        same_workloads = [
            (port, group)
            for (other_text, port), group in listeners.items()
            if _select_same_workloads(context, text, selector, other_text, group.selector)
        ]
        for server in sequence(gateway.spec.get("servers")):
            server = mapping(server)
            port = _server_port(server)
            hosts = strings(server.get("hosts"))
            listener = (_text(server.get("bind")), _is_plain_http(server))
            conflicting = sorted(
                {
                    name
                    for group_port, group in same_workloads
                    if group_port == port
                    for name, known in group.hosts_by_gateway.items()
                    if name != gateway.full_name and any(_clash(listener, known.get(host)) for host in hosts)
                }
            )
            if conflicting:
                context.report(
                    CONFLICTING_GATEWAYS(gateway, ",".join(conflicting), text, str(port), ",".join(hosts))
                )


def _listeners_by_selector_and_port(context: AnalysisContext) -> dict[tuple[str, int], _Listeners]:
    listeners: dict[tuple[str, int], _Listeners] = {}
    for gateway in context.each(GATEWAY):
        selector = workload_selector(gateway)
        for server in sequence(gateway.spec.get("servers")):
            server = mapping(server)
            key = (selector_text(selector), _server_port(server))
            group = listeners.setdefault(key, _Listeners(selector))
            known = group.hosts_by_gateway.setdefault(gateway.full_name, {})
            for host in strings(server.get("hosts")):
                known[host] = (_text(server.get("bind")), _is_plain_http(server))
    return listeners


def _clash(listener: tuple[str, bool], other: tuple[str, bool] | None) -> bool:
    """Whether two servers with one host on one port clash: same `bind`, unless both are plain HTTP."""
    if other is None:
        return False
    (bind, plain_http), (other_bind, other_plain_http) = listener, other
    return bind == other_bind and not (plain_http and other_plain_http)


def _is_plain_http(server: Mapping[str, Any]) -> bool:
    """An HTTP-family server without TLS (HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-WEB)."""
    protocol = _text(mapping(server.get("port")).get("protocol")).upper()
    return protocol in _HTTP_PROTOCOLS and server.get("tls") is None


def _select_same_workloads(
    context: AnalysisContext,
    text: str,
    selector: Mapping[str, Any],
    other_text: str,
    other: Mapping[str, Any],
) -> bool:
    if text == other_text:
        return True
    if other_text not in text and text not in other_text:
        return False
    return any(
        selector_matches(selector, pod.labels) and selector_matches(other, pod.labels)
        for pod in context.each(POD)
    )


def _server_port(server: Mapping[str, Any]) -> int:
    number = mapping(server.get("port")).get("number")
    return number if isinstance(number, int) and not isinstance(number, bool) else 0


# --- gateway.SecretAnalyzer -----------------------------------------------------------------------------


@analyzer(
    "gateway.SecretAnalyzer",
    "Checks a gateway's referenced secrets for correctness",
    (GATEWAY, POD, SECRET),
)
def secrets(context: AnalysisContext) -> None:
    """IST0101 for a `credentialName` with no Secret, IST0161 for a Secret that is no usable credential.

    The Secret is looked up in the namespace of the gateway workload (the first Pod the selector matches),
    not the Gateway's, unless `credentialName` is `ns/name`. A Gateway selecting no Pod gets IST0101
    (`selector`), the message gateway.IngressGatewayPortAnalyzer also gives.
    """
    now = now_utc()
    for gateway in context.each(GATEWAY):
        selector = workload_selector(gateway)
        workload = next((pod for pod in context.each(POD) if selector_matches(selector, pod.labels)), None)
        if workload is None:
            path = selector_field_path(selector)
            context.report(
                REFERENCED_RESOURCE_NOT_FOUND(gateway, "selector", selector_text(selector), field_path=path)
            )
            continue
        for index, server in enumerate(sequence(gateway.spec.get("servers"))):
            credential = _text(mapping(mapping(server).get("tls")).get("credentialName"))
            if not credential:
                continue
            path = field_path("spec", "servers", index, "tls", "credentialName")
            namespace, sep, name = credential.partition("/")
            secret = (
                context.find(SECRET, namespace, name)
                if sep
                else context.find(SECRET, workload.namespace, credential)
            )
            if secret is None:
                context.report(
                    REFERENCED_RESOURCE_NOT_FOUND(gateway, "credentialName", credential, field_path=path)
                )
            elif credential_problem(secret, now) is not None:
                context.report(
                    INVALID_GATEWAY_CREDENTIAL(gateway, gateway.name, workload.namespace, field_path=path)
                )


# --- gateway.CertificateAnalyzer ------------------------------------------------------------------------


@analyzer("gateway.CertificateAnalyzer", "Checks a gateway certificate", (GATEWAY,))
def certificates(context: AnalysisContext) -> None:
    """IST0138: two Gateways for the same workloads serve TLS with the same certificate.

    The other Gateway counts when this one's selector is empty or a subset of the other's. The same
    certificate: equal `credentialName`s, or (with neither set) equal `serverCertificate` and `privateKey`.
    """
    gateways = context.each(GATEWAY)
    for gateway in gateways:
        selector = workload_selector(gateway)
        for other in gateways:
            if other.key == gateway.key or not _selector_subset(selector, workload_selector(other)):
                continue
            if _share_a_certificate(gateway, other):
                names = [gateway.full_name, other.full_name]
                context.report(GATEWAY_DUPLICATE_CERTIFICATE(gateway, names, field_path=NAME_PATH))


def _selector_subset(selector: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    return all(key in other and other[key] == value for key, value in selector.items())


def _share_a_certificate(gateway: Resource, other: Resource) -> bool:
    mine = _server_tls_settings(gateway)
    theirs = _server_tls_settings(other)
    return any(_same_certificate(a, b) for a in mine for b in theirs)


def _server_tls_settings(gateway: Resource) -> list[Mapping[str, Any]]:
    servers = [mapping(server) for server in sequence(gateway.spec.get("servers"))]
    return [mapping(server["tls"]) for server in servers if server.get("tls") is not None]


def _same_certificate(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    a_name, b_name = _text(a.get("credentialName")), _text(b.get("credentialName"))
    if a_name and b_name:
        return a_name == b_name
    if a_name or b_name:
        return False
    pairs = [(_text(a.get(key)), _text(b.get(key))) for key in ("serverCertificate", "privateKey")]
    return all(mine and mine == theirs for mine, theirs in pairs)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
