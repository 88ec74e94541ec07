"""meshlab.mesh.version in a real playbook run (playbooks/version.yml) against the real meshctl.

meshd, the control plane, does not exist yet: a stand-in serves its monitoring endpoint (`/version` on a
real socket) with a fixed report, so meshctl's remote path and the module's skew checks run for real.
Replace it with a running meshd once there is one.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.plugins.ansible_run import PlaybookRun, run_playbook

EXPECTED_FAILURES = {
    "Expected version differs",
    "Control plane with skewed proxies and fail_on_skew",
    "Non-executable meshctl_path",
}

STAND_IN_REPORT = {
    "meshVersion": [{"Component": "meshd", "Revision": "default", "Info": {"version": "0.1.0"}}],
    "dataPlaneVersion": [
        {"ID": "productpage-v1.default", "IstioVersion": "0.1.0", "Type": "sidecar"},
        {"ID": "reviews-v1.default", "IstioVersion": "0.1.0", "Type": "sidecar"},
        {"ID": "ratings-v1.default", "IstioVersion": "0.0.9", "Type": "sidecar"},
    ],
}


class StandInControlPlane(BaseHTTPRequestHandler):
    """Answers GET /version as meshd's monitoring port does; anything else is 404."""

    def do_GET(self) -> None:
        if self.path != "/version":
            self.send_error(404)
            return
        body = json.dumps(STAND_IN_REPORT).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def control_plane() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInControlPlane)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def no_control_plane() -> Iterator[str]:
    """An address where nothing answers: a port bound (so no one else takes it) but never listened on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def client_version(meshctl_path: Path) -> str:
    proc = subprocess.run(
        [str(meshctl_path), "version", "-o", "json", "--remote=false"],
        capture_output=True,
        text=True,
        check=True,
    )
    version: str = json.loads(proc.stdout)["clientVersion"]["version"]
    return version


@pytest.fixture(scope="module")
def scenario(
    meshctl_path: Path, client_version: str, control_plane: str, no_control_plane: str
) -> dict[str, Any]:
    return {
        "meshctl": str(meshctl_path),
        "client_version": client_version,
        "control_plane": control_plane,
        "no_control_plane": no_control_plane,
    }


@pytest.fixture(scope="module")
def run(scenario: dict[str, Any]) -> PlaybookRun:
    return run_playbook("version.yml", scenario)


@pytest.fixture(scope="module")
def check_run(scenario: dict[str, Any]) -> PlaybookRun:
    return run_playbook("version.yml", scenario, check=True)


def test_the_play_fails_exactly_where_expected_and_changes_nothing(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.stderr
    assert set(run.failed_tasks()) == EXPECTED_FAILURES
    assert run.stats["failures"] == 0
    assert run.stats["rescued"] == len(EXPECTED_FAILURES)
    assert run.stats["changed"] == 0
    assert all(result["changed"] is False for result in run.results.values())


def test_client_only(run: PlaybookRun, client_version: str) -> None:
    result = run.result("Client only")
    assert result["client_version"] == client_version
    assert result["raw"]["clientVersion"]["version"] == client_version
    assert "--remote=false" in result["command"]
    assert result["control_plane_present"] is False
    assert result["control_plane_versions"] == []
    assert result["data_plane_versions"] == []
    assert result["skew"] is False


def test_no_control_plane_is_not_a_failure(run: PlaybookRun, no_control_plane: str) -> None:
    result = run.result("No control plane")
    assert not result.get("failed")
    assert result["control_plane_present"] is False
    assert "control plane is not present" in result["stderr"]
    assert no_control_plane in result["stderr"]


def test_expected_version_that_matches_passes(run: PlaybookRun) -> None:
    assert not run.result("Expected version matches").get("failed")


def test_expected_version_that_differs_fails(run: PlaybookRun, client_version: str) -> None:
    result = run.result("Expected version differs")
    assert result["failed"] is True
    assert result["msg"] == f"expected_version is 99.0.0 but meshctl is {client_version}"
    assert result["client_version"] == client_version


def test_control_plane_versions_and_skew_are_reported(run: PlaybookRun, client_version: str) -> None:
    result = run.result("Control plane with skewed proxies")
    assert not result.get("failed")
    assert result["control_plane_present"] is True
    assert result["control_plane_versions"] == [
        {"component": "meshd", "revision": "default", "version": "0.1.0"}
    ]
    assert result["data_plane_versions"] == [
        {"version": "0.0.9", "count": 1},
        {"version": "0.1.0", "count": 2},
    ]
    assert result["skew"] is True
    assert result["raw"]["dataPlaneVersion"] == STAND_IN_REPORT["dataPlaneVersion"]


def test_fail_on_skew_fails_and_names_every_version(run: PlaybookRun, client_version: str) -> None:
    result = run.result("Control plane with skewed proxies and fail_on_skew")
    assert result["failed"] is True
    assert result["msg"] == (
        f"versions differ (fail_on_skew): meshctl {client_version}, meshd 0.1.0, "
        "1 proxy at 0.0.9, 2 proxies at 0.1.0"
    )
    assert result["skew"] is True


def test_a_meshctl_path_that_is_not_executable_is_named(run: PlaybookRun) -> None:
    result = run.result("Non-executable meshctl_path")
    assert result["msg"].startswith("meshctl_path: ")
    assert result["msg"].endswith("version.yml is not an executable file on the managed host")


def test_check_mode_reports_the_same(run: PlaybookRun, check_run: PlaybookRun) -> None:
    assert check_run.returncode == 0, check_run.stderr
    assert check_run.stats["changed"] == 0
    assert set(check_run.failed_tasks()) == EXPECTED_FAILURES
    for name, result in run.results.items():
        in_check_mode = check_run.result(name)
        for key in (
            "client_version",
            "control_plane_versions",
            "data_plane_versions",
            "skew",
            "msg",
            "command",
        ):
            assert in_check_mode.get(key) == result.get(key), (name, key)
