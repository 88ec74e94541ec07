"""Install profiles (meshlab_profile, meshlab_addons; docs/profiles.md) rolled out for real on one
isolated host (tests/integration/playbooks/mesh_host.py) with Istio's two gateways on free ports: bad input
fails before anything changes; minimal runs no gateway or addon; each switch of profile on the running mesh
changes what differs and leaves the rest running; a second run changes nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.isolated_host import Run
from tests.integration.playbooks.mesh_host import MeshHost, mesh_host

SIDECARS = 6
RUNNING = re.compile(r"^(?P<name>\S+)\s+RUNNING\s+pid (?P<pid>\d+)", re.MULTILINE)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshHost]:
    """The isolated mesh host, its gateways chosen by the profile: the inventory's own gateway list becomes
    the Istio defaults the profile picks from (the same two gateways, on free ports)."""
    with mesh_host(tmp_path_factory.mktemp("controller")) as mesh:
        inventory = json.loads(mesh.inventory.read_text())
        host_vars = inventory["all"]["hosts"]["localhost"]
        host_vars["gateways_istio_defaults"] = host_vars.pop("mesh_gateways")
        mesh.inventory.write_text(json.dumps(inventory, indent=2))
        yield mesh


def site(mesh: MeshHost, name: str, **variables: Any) -> Run:
    return mesh.run("site.yml", name, extra_vars=variables)


def programs(mesh: MeshHost) -> set[str]:
    """The services defined on the host (supervisord program files, without meshlab- and .conf)."""
    directory = mesh.host.config_dir / "supervisor.d"
    return {
        path.name.removeprefix("meshlab-").removesuffix(".conf") for path in directory.glob("meshlab-*.conf")
    }


def pids(mesh: MeshHost) -> dict[str, int]:
    """Each running service's process id, by `supervisorctl status`."""
    status = subprocess.run(
        [
            str(mesh.host.venv / "bin" / "supervisorctl"),
            "-c",
            str(mesh.host.config_dir / "supervisord.conf"),
            "status",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return {found["name"]: int(found["pid"]) for found in RUNNING.finditer(status.stdout)}


def meshctl(mesh: MeshHost, *args: str) -> subprocess.CompletedProcess[str]:
    connection = [f"--control-plane=127.0.0.1:{mesh.ports['api']}", f"--data-dir={mesh.host.data_dir}"]
    return subprocess.run(
        [str(mesh.host.venv / "bin" / "meshctl"), *args, *connection],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"meshlab_profile": "demoo"},
            "meshlab_profile: 'demoo' is not a profile: choose one of demo, default, minimal, empty",
        ),
        ({"meshlab_addons": ["grafana"]}, "meshlab_addons: 'grafana' is no addon: choose from prometheus"),
        (
            {"meshlab_profile": "empty", "meshlab_addons": ["prometheus"]},
            "meshlab_addons: prometheus need the control plane, which meshlab_profile 'empty' does not run",
        ),
    ],
)
def test_a_bad_profile_or_addon_fails_before_anything_changes(
    tmp_path: Path, variables: dict[str, Any], message: str
) -> None:
    with mesh_host(tmp_path) as mesh:
        run = site(mesh, "bad", **variables)

        assert run.returncode != 0
        assert message in run.output
        assert "Traceback" not in run.output
        assert (run.recap()["changed"], run.recap()["failed"]) == (0, 1)
        assert list(mesh.host.base.iterdir()) == []


def test_minimal_runs_the_control_plane_and_bookinfo_without_gateways_or_addons(mesh: MeshHost) -> None:
    run = site(mesh, "minimal", meshlab_profile="minimal")

    assert run.returncode == 0, run.output
    assert "profile minimal: meshd, gateways: none, addons: none, tracing 1.0%, access log off" in run.stdout
    assert not {name for name in programs(mesh) if name.startswith("gateway-") or name == "prometheus"}
    assert "meshd" in programs(mesh)
    assert f"proxies: {SIDECARS} of {SIDECARS} SYNCED" in run.stdout
    assert "addons: none" in run.stdout
    # No Gateway for Bookinfo to bind: it is not published (Istio's analyzer would flag one as IST0101).
    assert meshctl(mesh, "get", "gateway", "bookinfo-gateway").returncode != 0


def test_switching_to_default_adds_the_ingress_gateway_and_restarts_nothing_else(mesh: MeshHost) -> None:
    before = pids(mesh)
    assert before and "meshlab-meshd" in before

    run = site(mesh, "default", meshlab_profile="default")

    assert run.returncode == 0, run.output
    assert {name for name in programs(mesh) if name.startswith("gateway-")} == {
        "gateway-istio-ingressgateway"
    }
    after = pids(mesh)
    # Same tracing rate and access log as minimal: meshd and the sidecars keep running as they were.
    assert {name: pid for name, pid in after.items() if name in before} == before
    assert f"proxies: {SIDECARS + 1} of {SIDECARS + 1} SYNCED" in run.stdout
    assert f"product page: http://127.0.0.1:{mesh.ports['ingress_http']}/productpage" in run.stdout


def test_demo_adds_the_egress_gateway_prometheus_access_logs_and_full_tracing(mesh: MeshHost) -> None:
    run = site(mesh, "demo", meshlab_profile="demo")

    assert run.returncode == 0, run.output
    assert {"gateway-istio-ingressgateway", "gateway-istio-egressgateway", "prometheus"} <= programs(mesh)
    config = mesh.host.config_dir / "supervisor.d"
    assert "--trace-sampling 100.0" in (config / "meshlab-meshd.conf").read_text()
    for program in config.glob("meshlab-sidecar-*.conf"):
        assert "--access-log=-" in program.read_text(), program
    assert "--access-log=-" in (config / "meshlab-gateway-istio-egressgateway.conf").read_text()
    assert f"proxies: {SIDECARS + 2} of {SIDECARS + 2} SYNCED" in run.stdout
    assert f"addons: prometheus http://127.0.0.1:{mesh.ports['prometheus']}" in run.stdout

    again = site(mesh, "demo-again", meshlab_profile="demo")

    assert again.returncode == 0, again.output
    assert again.recap()["changed"] == 0, again.stdout


def test_back_to_minimal_removes_the_gateways_and_prometheus(mesh: MeshHost) -> None:
    run = site(mesh, "back-to-minimal", meshlab_profile="minimal")

    assert run.returncode == 0, run.output
    assert not {name for name in programs(mesh) if name.startswith("gateway-") or name == "prometheus"}
    assert not [name for name in pids(mesh) if "gateway" in name or "prometheus" in name]
    proxies = mesh.host.base / "proxies"
    assert not list(proxies.glob("istio-*gateway.istio-system"))
    assert meshctl(mesh, "get", "service", "istio-ingressgateway", "-n", "istio-system").returncode != 0
    assert f"proxies: {SIDECARS} of {SIDECARS} SYNCED" in run.stdout

    again = site(mesh, "minimal-again", meshlab_profile="minimal")

    assert again.returncode == 0, again.output
    assert again.recap()["changed"] == 0, again.stdout
