"""What a running lab is made of, apart from how it starts: the error every step raises, meshd's ports, a
workload (its app and sidecar), a gateway, what a stop found, and the environment its processes get."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .processes import Child
from .spec import GatewaySpec, WorkloadSpec

#: Variables a child must not inherit: proxies (the lab sets the app's own) and meshctl's defaults.
_DROPPED_ENV_PREFIXES = ("MESHCTL_", "MESHD_")
_DROPPED_ENV = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    }
)


class LabError(Exception):
    """The lab could not be started, configured or stopped; the message says what and where to look."""


@dataclass(frozen=True, slots=True)
class MeshdPorts:
    discovery: int
    api: int
    monitoring: int


@dataclass
class Workload:
    spec: WorkloadSpec
    app_port: int
    app: Child
    inbound_port: int = 0
    outbound_port: int = 0
    admin_port: int = 0
    proxy: Child | None = None
    stats_port: int = 0


@dataclass
class Gateway:
    spec: GatewaySpec
    #: Gateway server port → the local port the gateway listens on for it.
    ports: dict[int, int]
    admin_port: int
    proxy: Child
    stats_port: int = 0


@dataclass
class StopReport:
    killed: list[str] = field(default_factory=list)
    alive: list[str] = field(default_factory=list)
    busy_ports: list[int] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.alive and not self.busy_ports


def child_environment(extra: Mapping[str, str] = {}) -> dict[str, str]:  # noqa: B006 - never mutated
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _DROPPED_ENV and not k.startswith(_DROPPED_ENV_PREFIXES)
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
