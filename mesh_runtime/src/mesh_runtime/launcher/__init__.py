"""Start the whole mesh on this machine from a lab spec (shared by the integration tests and benchmarks)."""

from __future__ import annotations

from .bookinfo import bookinfo_spec
from .lab import Lab
from .model import LabError, StopReport
from .ports import PortAllocator, PortError
from .spec import (
    GatewaySpec,
    LabSpec,
    NamespaceSpec,
    PortSpec,
    ServiceSpec,
    SpecError,
    WorkloadSpec,
    load_spec,
)
from .state import read_state, stop_recorded

__all__ = [
    "GatewaySpec",
    "Lab",
    "LabError",
    "LabSpec",
    "NamespaceSpec",
    "PortAllocator",
    "PortError",
    "PortSpec",
    "ServiceSpec",
    "SpecError",
    "StopReport",
    "WorkloadSpec",
    "bookinfo_spec",
    "load_spec",
    "read_state",
    "stop_recorded",
]
