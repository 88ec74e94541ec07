"""gateway.*: Istio's Gateway analyzers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...resources import Resource
from ...resources.kinds import GATEWAY, POD, SERVICE
from ..analyzer import analyzer
from ..catalogue import by_name
from ..context import AnalysisContext
from .util import field_path, selector_matches, selector_text

REFERENCED_RESOURCE_NOT_FOUND = by_name("ReferencedResourceNotFound")
GATEWAY_PORT_NOT_DEFINED_ON_SERVICE = by_name("GatewayPortNotDefinedOnService")


@analyzer(
    "gateway.IngressGatewayPortAnalyzer",
    "Checks a gateway's ports against the gateway's Kubernetes service ports",
    (GATEWAY, POD, SERVICE),
)
def ingress_gateway_port(context: AnalysisContext) -> None:
    for gateway in context.each(GATEWAY):
        _check_gateway_ports(context, gateway)


def _check_gateway_ports(context: AnalysisContext, gateway: Resource) -> None:
    selector = _mapping(gateway.spec.get("selector"))
    selector_string = selector_text(selector)
    # The line reported is that of the selector's first label, as istioctl reports it.
    first_label = sorted(selector)[0] if selector else ""
    line_field = field_path("spec", "selector", first_label) if first_label else None
    pods = [pod for pod in context.each(POD) if selector_matches(selector, pod.labels)]
    if not pods:
        context.report(
            REFERENCED_RESOURCE_NOT_FOUND(gateway, "selector", selector_string, field_path=line_field)
        )
        return
    exposed = _ports_of_services_selecting(context, pods)
    for server in _list(gateway.spec.get("servers")):
        port = _mapping(server).get("port")
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
            selector = _mapping(service.spec.get("selector"))
            if not selector or not selector_matches(selector, pod.labels):
                continue
            for port in _list(service.spec.get("ports")):
                port = _mapping(port)
                if str(port.get("protocol") or "TCP") != "TCP":
                    continue
                for key in ("port", "targetPort"):
                    if isinstance(port.get(key), int):
                        ports.add(port[key])
    return ports


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
