"""service.*: Istio's Service analyzers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...resources import Resource
from ...resources.fields import sequence
from ...resources.kinds import SERVICE
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .base import analyzer, field_path
from .workloads import (
    UNSUPPORTED,
    convert_protocol,
    is_istio_control_plane,
    is_istio_managed_gateway,
    port_number,
    target_port_text,
)

PORT_NAME_IS_NOT_UNDER_NAMING_CONVENTION = by_name("PortNameIsNotUnderNamingConvention")
EXTERNAL_NAME_SERVICE_TYPE_INVALID_PORT_NAME = by_name("ExternalNameServiceTypeInvalidPortName")
EXTERNAL_NAME = "ExternalName"


@analyzer("service.PortNameAnalyzer", "Checks the port names associated with each service", (SERVICE,))
def port_name(context: AnalysisContext) -> None:
    for service in context.each(SERVICE):
        # Istio's own Services and the ones its gateway controllers generate are not the user's to rename.
        if is_istio_control_plane(service) or is_istio_managed_gateway(service):
            continue
        _check_port_names(context, service)


def _check_port_names(context: AnalysisContext, service: Resource) -> None:
    external_name = service.spec.get("type") == EXTERNAL_NAME
    for index, port in enumerate(sequence(service.spec.get("ports"))):
        if not isinstance(port, Mapping):
            continue
        name = _text(port.get("name"))
        protocol = convert_protocol(
            port_number(port), name, _text(port.get("protocol")), _optional_text(port.get("appProtocol"))
        )
        # An ExternalName Service forwards by port name too, and `tcp` alone tells the proxy nothing.
        if protocol != UNSUPPORTED and not (external_name and name == "tcp"):
            continue
        line = field_path("spec", "ports", index, "port")
        if external_name:
            context.report(EXTERNAL_NAME_SERVICE_TYPE_INVALID_PORT_NAME(service, field_path=line))
        else:
            context.report(
                PORT_NAME_IS_NOT_UNDER_NAMING_CONVENTION(
                    service, name, port_number(port), target_port_text(port), field_path=line
                )
            )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
