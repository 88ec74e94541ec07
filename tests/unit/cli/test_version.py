from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from mesh_runtime import __version__
from tests.conftest import MeshctlRunner

NO_CONTROL_PLANE = "--control-plane=127.0.0.1:1"


def test_client_version_without_a_control_plane(meshctl: MeshctlRunner) -> None:
    result = meshctl("version", NO_CONTROL_PLANE)
    assert (result.code, result.stdout) == (0, f"client version: {__version__}\n")
    assert result.stderr.startswith("control plane is not present: no control plane (meshd) answered at ")


def test_remote_false_asks_nobody(meshctl: MeshctlRunner) -> None:
    result = meshctl("version", "--remote=false", NO_CONTROL_PLANE)
    assert (result.code, result.stdout, result.stderr) == (0, f"client version: {__version__}\n", "")


def test_json_and_yaml_have_istioctls_keys(meshctl: MeshctlRunner) -> None:
    as_json = json.loads(meshctl("version", NO_CONTROL_PLANE, "-o", "json").stdout)
    assert list(as_json) == ["clientVersion"]
    assert as_json["clientVersion"]["version"] == __version__
    assert {"version", "revision", "status", "tag"} <= set(as_json["clientVersion"])
    assert yaml.safe_load(meshctl("version", NO_CONTROL_PLANE, "-o", "yaml").stdout) == as_json


def test_bad_output_is_a_usage_error(meshctl: MeshctlRunner) -> None:
    result = meshctl("version", "-o", "xml")
    assert result.code == 64 and result.stderr == "Error: --output must be 'yaml' or 'json'\n"


@pytest.fixture
def control_plane() -> Iterator[str]:
    """A real HTTP server on loopback answering /version as meshd's monitoring port does."""
    body = {
        "meshVersion": [{"Component": "meshd", "Revision": "default", "Info": {"version": "0.2.0"}}],
        "dataPlaneVersion": [
            {"ID": f"p{i}.default", "IstioVersion": v, "Type": "sidecar"}
            for i, v in enumerate(["0.2.0", "0.10.0", "0.2.0"])
        ],
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            payload = json.dumps(body).encode() if self.path == "/version" else b"{}"
            self.send_response(200 if self.path == "/version" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_control_and_data_plane_lines(meshctl: MeshctlRunner, control_plane: str) -> None:
    result = meshctl("version", f"--control-plane={control_plane}")
    assert result.code == 0 and result.stderr == ""
    assert result.lines == [
        f"client version: {__version__}",
        "control plane version: 0.2.0",
        # sorted as plain strings, as istioctl sorts them
        "data plane version: 0.10.0 (1 proxies), 0.2.0 (2 proxies)",
    ]
    as_json = json.loads(meshctl("version", f"--control-plane={control_plane}", "-o", "json").stdout)
    assert as_json["meshVersion"][0]["Info"]["version"] == "0.2.0"
    assert len(as_json["dataPlaneVersion"]) == 3
