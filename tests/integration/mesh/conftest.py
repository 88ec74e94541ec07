"""One Bookinfo mesh per test module, started by the launcher as real processes and always stopped.

The lab is Bookinfo's built-in spec with the gateway routes left out — the module applies Istio's own
`bookinfo-gateway.yaml` with meshctl instead — plus an `echo` workload (service `echo`, port 8000) whose app
answers with the headers it got, so the tests can read what its sidecar saw on the wire.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from mesh_runtime.launcher import Lab, LabSpec, PortSpec, ServiceSpec, WorkloadSpec, bookinfo_spec
from tests.integration.mesh.running import Mesh

ECHO_APP = Path(__file__).with_name("echo_app.py")
ECHO_PORT = 8000


def lab_spec() -> LabSpec:
    spec = bookinfo_spec(gateway_routes=False)
    echo_labels = MappingProxyType({"app": "echo", "version": "v1"})
    return dataclasses.replace(
        spec,
        name="bookinfo-test",
        services=(
            *spec.services,
            ServiceSpec("echo", "default", (PortSpec("http", ECHO_PORT),), MappingProxyType({"app": "echo"})),
        ),
        workloads=(
            *spec.workloads,
            WorkloadSpec(
                "echo-v1", "default", "echo", echo_labels, ("{python}", str(ECHO_APP), "{app_port}")
            ),
        ),
    )


@pytest.fixture(scope="module")
def networking(istio_reference: Path) -> Path:
    """Istio's Bookinfo networking samples, applied unchanged."""
    return istio_reference / "bookinfo" / "networking"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, networking: Path) -> Iterator[Mesh]:
    lab = Lab(lab_spec(), tmp_path_factory.mktemp("lab"))
    lab.start()
    children = lab.children()
    try:
        mesh = Mesh(lab)
        mesh.apply(networking / "bookinfo-gateway.yaml")
        mesh.wait_for_page()
        yield mesh
    finally:
        report = lab.stop()
    # Stopped cleanly: no process alive, no port of the lab still taken, no proxy or meshd crashed.
    assert report.clean, report
    assert not [c.name for c in children if c.alive()]
    for child in children:
        log = child.log_path.read_text(errors="replace")
        assert "Traceback" not in log, f"{child.name}:\n{log}"
