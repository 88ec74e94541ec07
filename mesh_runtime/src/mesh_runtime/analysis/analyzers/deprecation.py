"""deprecation.*: Istio's analyzer of deprecated and removed types and fields.

Istio's API has no machine-readable list of deprecated fields: like Istio's, this analyzer knows a few
by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...resources import Resource
from ...resources.fields import mapping, sequence
from ...resources.kinds import CUSTOM_RESOURCE_DEFINITION, SIDECAR, VIRTUAL_SERVICE
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .base import analyzer

DEPRECATED = by_name("Deprecated")

#: Istio CRDs that have been removed (the RBAC API was replaced by AuthorizationPolicy).
REMOVED_CUSTOM_RESOURCES = (
    ("rbac.istio.io", "ClusterRbacConfig"),
    ("rbac.istio.io", "RbacConfig"),
    ("rbac.istio.io", "ServiceRole"),
    ("rbac.istio.io", "ServiceRoleBinding"),
)


@analyzer(
    "deprecation.DeprecationAnalyzer",
    "Checks for deprecated Istio types and fields",
    (VIRTUAL_SERVICE, SIDECAR, CUSTOM_RESOURCE_DEFINITION),
)
def deprecation(context: AnalysisContext) -> None:
    for virtual_service in context.each(VIRTUAL_SERVICE):
        _check_virtual_service(context, virtual_service)
    for sidecar in context.each(SIDECAR):
        _check_sidecar(context, sidecar)
    for definition in context.each(CUSTOM_RESOURCE_DEFINITION):
        _check_custom_resource_definition(context, definition)


def _check_virtual_service(context: AnalysisContext, virtual_service: Resource) -> None:
    for route in sequence(virtual_service.spec.get("http")):
        delay = mapping(mapping(mapping(route).get("fault")).get("delay"))
        if _positive_number(delay.get("percent")):
            context.report(
                DEPRECATED(
                    virtual_service,
                    _replaced("HTTPRoute.fault.delay.percent", "HTTPRoute.fault.delay.percentage"),
                )
            )


def _check_sidecar(context: AnalysisContext, sidecar: Resource) -> None:
    policy = mapping(sidecar.spec.get("outboundTrafficPolicy"))
    if isinstance(policy.get("egressProxy"), Mapping):
        context.report(DEPRECATED(sidecar, "OutboundTrafficPolicy.EgressProxy ignored"))


def _check_custom_resource_definition(context: AnalysisContext, definition: Resource) -> None:
    group = definition.spec.get("group")
    kind = mapping(definition.spec.get("names")).get("kind")
    if (group, kind) in REMOVED_CUSTOM_RESOURCES:
        context.report(DEPRECATED(definition, f"Custom resource type {group} {kind} is removed"))


def _replaced(deprecated: str, replacement: str) -> str:
    return f"{deprecated} is deprecated; use {replacement}"


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
