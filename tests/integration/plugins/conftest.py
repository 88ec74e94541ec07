"""Fixtures for the integration tests: the real meshctl, as the modules' meshctl_path, a real meshd, and a
small real mesh (meshd with one workload and its sidecar)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from mesh_runtime.launcher import Lab, LabSpec, NamespaceSpec, PortSpec, ServiceSpec, WorkloadSpec
from tests.integration.meshd.running import Meshd
from tests.integration.plugins.ansible_run import beside_python


@pytest.fixture(scope="session")
def meshctl_path() -> Path:
    """The real meshctl, as one executable path (the modules' meshctl_path)."""
    path = beside_python("meshctl")
    if path is None:
        pytest.fail("meshctl not found beside this Python nor on PATH: run `make setup`")
    return path


@pytest.fixture(scope="module")
def meshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Meshd]:
    """A real meshd (serve on free loopback ports, in a fresh data directory) for one test module."""
    server = Meshd(tmp_path_factory.mktemp("meshd") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def config_api(meshctl_path: Path, meshd: Meshd) -> dict[str, str]:
    """The extra vars every config API playbook takes: meshctl, control_plane and data_dir."""
    return {"meshctl": str(meshctl_path), "control_plane": meshd.api, "data_dir": str(meshd.data_dir)}


def modules_lab_spec() -> LabSpec:
    """A small mesh: namespace default (injection on), Service ratings and its workload with a sidecar."""
    ratings = MappingProxyType({"app": "ratings"})
    return LabSpec(
        name="modules",
        namespaces=(NamespaceSpec("default", MappingProxyType({"istio-injection": "enabled"})),),
        services=(ServiceSpec("ratings", "default", (PortSpec("http", 9080),), ratings, ratings),),
        workloads=(
            WorkloadSpec(
                "ratings-v1",
                "default",
                "bookinfo-ratings",
                MappingProxyType({"app": "ratings", "version": "v1"}),
                ("{python}", "-m", "bookinfo", "ratings", "--port", "{app_port}"),
            ),
        ),
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The small mesh as real processes (meshd, the ratings app and its mesh-proxy) for one test module,
    on free loopback ports under a temporary directory; stopped cleanly."""
    running = Lab(modules_lab_spec(), tmp_path_factory.mktemp("lab"))
    running.start()
    try:
        yield running
    finally:
        report = running.stop()
    assert report.clean, report


@pytest.fixture(scope="module")
def lab_api(meshctl_path: Path, lab: Lab) -> dict[str, str]:
    """The extra vars of a config API playbook against the small mesh."""
    assert lab.meshd_ports is not None
    return {
        "meshctl": str(meshctl_path),
        "control_plane": f"127.0.0.1:{lab.meshd_ports.api}",
        "data_dir": str(lab.meshd_dir),
    }
