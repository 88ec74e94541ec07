"""`mesh-proxy --stats-port` as a real process on a second loopback address (127.0.0.2 stands for the node's
address): Prometheus' stats, and only those, on the proxy's address; the admin port and the app stay on
127.0.0.1; the inbound listener binds the proxy's address alone. Bad stats ports are one-line errors."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from mesh_runtime import xds

from .conftest import AppHandler, Proxy, free_port, start_proxy, stop

NODE_ADDRESS = "127.0.0.2"


@dataclass
class StatsMesh:
    proxy: Proxy
    inbound_port: int
    stats_port: int


def request(address: str, port: int, method: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request(method, path, headers={"Host": "b"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def refused(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def inbound_config(inbound_port: int, app_port: int) -> xds.ProxyConfig:
    """Sidecar B's inbound listener on the node's address, plaintext (no certificates here)."""
    listener = xds.Listener(
        "inbound|8000",
        "inbound",
        NODE_ADDRESS,
        inbound_port,
        app_port=app_port,
        peer_authentication=xds.PeerAuthentication(mode="DISABLE"),
    )
    node = xds.Node(id="b.default", type="sidecar", namespace="default", workload="b", service_account="b")
    return xds.ProxyConfig(version="b-1", node=node, listeners=(listener,))


@pytest.fixture(scope="module")
def stats_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatsMesh]:
    directory = tmp_path_factory.mktemp("stats")
    app = ThreadingHTTPServer(("127.0.0.1", 0), AppHandler)
    app.daemon_threads = True
    threading.Thread(target=app.serve_forever, daemon=True).start()
    inbound_port, stats_port = free_port(), free_port()
    config = inbound_config(inbound_port, int(app.server_address[1]))
    proxy = start_proxy(
        "b",
        config,
        directory,
        f"--address={NODE_ADDRESS}",
        f"--stats-port={stats_port}",
        "--node-name=node01",
    )
    try:
        yield StatsMesh(proxy, inbound_port, stats_port)
    finally:
        stop(proxy)
        app.shutdown()
        app.server_close()
    assert proxy.process.returncode == 0, proxy.log.read_text()
    assert "Traceback" not in proxy.log.read_text()


def test_the_inbound_listener_binds_the_node_address_and_reaches_the_app_on_loopback(
    stats_mesh: StatsMesh,
) -> None:
    status, _ = request(NODE_ADDRESS, stats_mesh.inbound_port, "GET", "/echo")
    assert status == 200
    assert refused("127.0.0.1", stats_mesh.inbound_port)


def test_the_stats_port_serves_prometheus_stats_on_the_node_address(stats_mesh: StatsMesh) -> None:
    assert request(NODE_ADDRESS, stats_mesh.inbound_port, "GET", "/echo")[0] == 200
    status, body = request(NODE_ADDRESS, stats_mesh.stats_port, "GET", "/stats/prometheus")
    text = body.decode()
    assert status == 200
    assert "# TYPE istio_requests_total counter" in text
    assert any(
        line.startswith("istio_requests_total{") and 'reporter="destination"' in line and 'code="200"' in line
        for line in text.splitlines()
    ), text
    # The same families as the admin port's /stats/prometheus.
    families = {line for line in text.splitlines() if line.startswith("# TYPE")}
    assert families == {
        line for line in stats_mesh.proxy.admin("/stats/prometheus").splitlines() if line.startswith("# TYPE")
    }
    assert refused("127.0.0.1", stats_mesh.stats_port)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/config_dump", 404),
        ("GET", "/clusters?format=json", 404),
        ("GET", "/server_info", 404),
        ("GET", "/stats", 404),
        ("POST", "/quitquitquit", 404),
        ("POST", "/stats/prometheus", 405),
    ],
)
def test_the_stats_port_serves_nothing_else(
    stats_mesh: StatsMesh, method: str, path: str, status: int
) -> None:
    got, body = request(NODE_ADDRESS, stats_mesh.stats_port, method, path)
    assert got == status, body
    assert b"version" not in body and b"cluster_statuses" not in body
    assert stats_mesh.proxy.process.poll() is None  # /quitquitquit did not stop it
    assert stats_mesh.proxy.admin("/healthz/ready").strip() == "LIVE"


def test_the_admin_port_stays_on_loopback(stats_mesh: StatsMesh) -> None:
    assert refused(NODE_ADDRESS, stats_mesh.proxy.admin_port)
    assert '"node_name": "node01"' in stats_mesh.proxy.admin("/server_info")


def run_proxy(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mesh_runtime.proxy", "sidecar", f"--data-dir={tmp_path}", *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_stats_port_clash_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(xds.encode(inbound_config(free_port(), free_port()))))
    admin_port = free_port()
    same = run_proxy(tmp_path, f"--admin-port={admin_port}", f"--stats-port={admin_port}")
    assert (same.returncode, same.stderr) == (
        2,
        f"mesh-proxy: --stats-port {admin_port} is also the --admin-port: give each its own port\n",
    )
    with socket.socket() as taken:
        taken.bind((NODE_ADDRESS, 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_proxy(
            tmp_path,
            f"--config-file={config}",
            f"--admin-port={free_port()}",
            f"--address={NODE_ADDRESS}",
            f"--stats-port={port}",
        )
    assert busy.returncode == 1
    assert busy.stderr.splitlines()[-1] == (
        f"mesh-proxy: --stats-port {port}: cannot listen on {NODE_ADDRESS}:{port}: Address already in use"
    )
    assert "Traceback" not in busy.stderr
    out_of_range = run_proxy(tmp_path, "--stats-port=70000")
    assert out_of_range.returncode == 2
    assert "argument --stats-port: '70000' is not a port (0-65535)" in out_of_range.stderr
