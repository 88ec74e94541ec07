"""applicationUID.Analyzer and deployment.*: Istio's analyzers of Deployments and Pods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...resources import Resource
from ...resources.fields import mapping, sequence
from ...resources.kinds import DEPLOYMENT, NAMESPACE, POD, SERVICE
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .base import analyzer, field_path, selector_matches
from .workloads import (
    ISTIO_PROXY,
    as_str_map,
    containers,
    deployment_in_mesh,
    is_istio_control_plane,
    pod_spec,
    pod_template_metadata,
    port_number,
    target_port_text,
)

INVALID_APPLICATION_UID = by_name("InvalidApplicationUID")
DEPLOYMENT_ASSOCIATED_TO_MULTIPLE_SERVICES = by_name("DeploymentAssociatedToMultipleServices")
DEPLOYMENT_CONFLICTING_PORTS = by_name("DeploymentConflictingPorts")

#: The UID the sidecar proxy runs as; traffic from it bypasses interception, so an app must not use it.
PROXY_UID = 1337
#: Containers allowed to run as the proxy's UID.
PROXY_CONTAINERS = frozenset({ISTIO_PROXY, "istio-operator"})


@analyzer("applicationUID.Analyzer", "Checks invalid application UID", (POD, DEPLOYMENT))
def application_uid(context: AnalysisContext) -> None:
    for workload in (*context.each(POD), *context.each(DEPLOYMENT)):
        if not is_istio_control_plane(workload) and _runs_as_proxy_uid(pod_spec(workload)):
            context.report(INVALID_APPLICATION_UID(workload))


def _runs_as_proxy_uid(spec: Mapping[str, Any]) -> bool:
    """Whether the pod, or one of its application containers, runs as the proxy's UID."""
    if _run_as_user(spec) == PROXY_UID:
        return True
    return any(
        _run_as_user(container) == PROXY_UID
        for container in containers(spec)
        if container.get("name") not in PROXY_CONTAINERS
    )


def _run_as_user(holder: Mapping[str, Any]) -> Any:
    return mapping(holder.get("securityContext")).get("runAsUser")


@analyzer(
    "deployment.MultiServiceAnalyzer",
    "Checks association between services and pods",
    (SERVICE, DEPLOYMENT, NAMESPACE),
)
def multi_service(context: AnalysisContext) -> None:
    for deployment in context.each(DEPLOYMENT):
        if not deployment_in_mesh(context, deployment):
            continue
        services = _services_selecting(context, deployment)
        if services:
            _check_port_protocols(context, deployment, services)
            _check_target_ports(context, deployment, services)


def _services_selecting(context: AnalysisContext, deployment: Resource) -> list[Resource]:
    """The Services in the Deployment's namespace selecting its pods (one without a selector selects all)."""
    labels = as_str_map(pod_template_metadata(deployment).get("labels"))
    return [
        service
        for service in context.each(SERVICE)
        if service.namespace == deployment.namespace
        and selector_matches(as_str_map(service.spec.get("selector")), labels)
    ]


def _ports(service: Resource) -> list[Mapping[str, Any]]:
    return [port for port in sequence(service.spec.get("ports")) if isinstance(port, Mapping)]


def _check_port_protocols(context: AnalysisContext, deployment: Resource, services: list[Resource]) -> None:
    """One port number carried with different protocols by the Services of one Deployment."""
    # port → protocol → Services (ns/name), in reading order
    by_port: dict[int, dict[str, list[str]]] = {}
    for service in services:
        for port in _ports(service):
            protocol = port.get("protocol") or "TCP"
            by_port.setdefault(port_number(port), {}).setdefault(str(protocol), []).append(service.full_name)
    for number, protocols in by_port.items():
        if len(protocols) > 1:
            names = [name for names in protocols.values() for name in names]
            context.report(
                DEPLOYMENT_ASSOCIATED_TO_MULTIPLE_SERVICES(
                    deployment, deployment.name, number, names, field_path=field_path("metadata", "name")
                )
            )


def _check_target_ports(context: AnalysisContext, deployment: Resource, services: list[Resource]) -> None:
    """One container port reached through different Service ports."""
    # targetPort → port → the (last) Service (ns/name) exposing it
    by_target: dict[str, dict[int, str]] = {}
    for service in services:
        for port in _ports(service):
            number = port_number(port)
            target = target_port_text(port)
            if target == "0":
                target = str(number)  # Kubernetes defaults targetPort to port
            by_target.setdefault(target, {})[number] = service.full_name
    for target, exposed in by_target.items():
        if len(exposed) > 1:
            context.report(
                DEPLOYMENT_CONFLICTING_PORTS(
                    deployment,
                    deployment.name,
                    list(exposed.values()),
                    target,
                    list(exposed),
                    field_path=field_path("metadata", "name"),
                )
            )
