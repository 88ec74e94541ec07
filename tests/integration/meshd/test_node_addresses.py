"""A mesh across node addresses, as real processes: meshd, a sidecar on "node01" (127.0.0.2) in front of an
app on loopback, an ingress gateway on "node02" (127.0.0.3). 127.0.0.0/8 is all loopback on Linux, so each
address stands for a machine of the lab: whatever binds one address is not reachable on another.

The configs meshd builds bind the sidecar's inbound listener and the gateway's server to the proxy's
--address, the app's outbound proxy and the admin ports to 127.0.0.1; a request crosses from the gateway's
address to the sidecar's; meshctl shows each pod's IP and node, and meshd's Prometheus service discovery
sends Prometheus to each proxy's stats port on its address.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.meshd.running import Meshd
from tests.ports import free_port

SIDECAR_ADDRESS = "127.0.0.2"
GATEWAY_ADDRESS = "127.0.0.3"
WAIT = 30.0
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MESH = """\
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default, labels: {app: echo}}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 8000}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{route: [{destination: {host: echo, port: {number: 8000}}}]}]
"""


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def listening(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=5).close()
    except ConnectionRefusedError:
        return False
    return True


def get(url: str) -> tuple[int, bytes]:
    try:
        with DIRECT.open(url, timeout=10) as reply:
            return int(reply.status), bytes(reply.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


@dataclass
class MeshProxy:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]

    def admin(self, path: str) -> tuple[int, bytes]:
        return get(f"http://127.0.0.1:{self.ports['admin']}{path}")


def start_proxy(meshd: Meshd, directory: Path, token: Path, mode: str, *flags: str) -> MeshProxy:
    ports = {name: free_port() for name in ("inbound", "outbound", "admin", "stats")}
    directory.mkdir(parents=True)
    log = directory / "proxy.log"
    command = [
        sys.executable, "-m", "mesh_runtime.proxy", mode, *flags,
        f"--inbound-port={ports['inbound']}", f"--outbound-port={ports['outbound']}",
        f"--admin-port={ports['admin']}", f"--stats-port={ports['stats']}",
        f"--discovery=127.0.0.1:{meshd.discovery[1]}", f"--token-file={token}",
        f"--ca-file={meshd.root_cert}", f"--data-dir={directory}", "--drain-seconds=1",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    return MeshProxy(directory.name, process, log, ports)


def ready(proxy: MeshProxy) -> bool:
    return proxy.admin("/healthz/ready")[0] == 200


def wait_until(what: str, condition: Callable[[], bool], proxies: list[MeshProxy]) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for proxy in proxies:
            assert proxy.process.poll() is None, f"{proxy.name} exited:\n{proxy.log.read_text()}"
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.name}\n{p.log.read_text()}" for p in proxies)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@dataclass
class NodesMesh:
    meshd: Meshd
    sidecar: MeshProxy
    gateway: MeshProxy
    app_port: int

    @property
    def gateway_url(self) -> str:
        return f"http://{GATEWAY_ADDRESS}:{self.gateway.ports['inbound']}"


@pytest.fixture
def nodes_mesh(meshd: Meshd, tmp_path: Path) -> Iterator[NodesMesh]:
    mesh_file = tmp_path / "mesh.yaml"
    mesh_file.write_text(MESH)
    applied = meshd.meshctl("apply", "-f", str(mesh_file))
    assert applied.code == 0, applied.stderr
    token = tmp_path / "bootstrap.token"
    token.write_text(meshd.token("default/echo", "istio-system/istio-ingressgateway-service-account") + "\n")
    app = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    app.daemon_threads = True
    threading.Thread(target=app.serve_forever, daemon=True).start()
    app_port = int(app.server_address[1])
    proxies = [
        start_proxy(
            meshd, tmp_path / "echo-v1", token, "sidecar", "--namespace=default", "--workload=echo-v1",
            "--service-account=echo", "--labels=app=echo,version=v1", f"--address={SIDECAR_ADDRESS}",
            "--node-name=node01", f"--app-port={app_port}",
        ),
        start_proxy(
            meshd, tmp_path / "istio-ingressgateway", token, "gateway", "--namespace=istio-system",
            "--workload=istio-ingressgateway", "--service-account=istio-ingressgateway-service-account",
            "--labels=istio=ingressgateway", f"--address={GATEWAY_ADDRESS}", "--node-name=node02",
        ),
    ]  # fmt: skip
    try:
        mesh = NodesMesh(meshd, proxies[0], proxies[1], app_port)
        wait_until("both proxies to be ready", lambda: all(ready(p) for p in proxies), proxies)
        wait_until("the gateway to reach the app", lambda: get(f"{mesh.gateway_url}/")[0] == 200, proxies)
        yield mesh
    finally:
        for proxy in proxies:
            proxy.process.terminate()
        for proxy in proxies:
            try:
                proxy.process.wait(15)
            except subprocess.TimeoutExpired:
                proxy.process.kill()
                proxy.process.wait()
        app.shutdown()
        app.server_close()
    for proxy in proxies:
        log = proxy.log.read_text()
        assert proxy.process.returncode == 0 and "Traceback" not in log, log


def test_listeners_bind_the_node_address_and_the_app_side_stays_on_loopback(nodes_mesh: NodesMesh) -> None:
    sidecar, gateway = nodes_mesh.sidecar.ports, nodes_mesh.gateway.ports
    # The request came in on the gateway's address and reached the app through the sidecar's mTLS listener.
    status, body = get(f"{nodes_mesh.gateway_url}/")
    assert status == 200
    client_cert = json.loads(body)["x-forwarded-client-cert"]
    assert "URI=spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account" in client_cert
    assert listening(SIDECAR_ADDRESS, sidecar["inbound"]) and not listening("127.0.0.1", sidecar["inbound"])
    assert listening("127.0.0.1", sidecar["outbound"]) and not listening(SIDECAR_ADDRESS, sidecar["outbound"])
    assert listening(GATEWAY_ADDRESS, gateway["inbound"]) and not listening("127.0.0.1", gateway["inbound"])
    for proxy, address in ((sidecar, SIDECAR_ADDRESS), (gateway, GATEWAY_ADDRESS)):
        assert listening("127.0.0.1", proxy["admin"]) and not listening(address, proxy["admin"])
        assert listening(address, proxy["stats"]) and not listening("127.0.0.1", proxy["stats"])
    # meshd's config says the same: the inbound listener on the node's address, the app behind it on loopback.
    listeners = json.loads(
        nodes_mesh.meshd.meshctl("proxy-config", "listener", "echo-v1.default", "-o", "json").stdout
    )
    inbound = next(item for item in listeners if item["direction"] == "inbound")
    assert (inbound["address"], inbound["port"], inbound["app_port"]) == (
        SIDECAR_ADDRESS,
        sidecar["inbound"],
        nodes_mesh.app_port,
    )


def test_pods_show_their_ip_and_node(nodes_mesh: NodesMesh) -> None:
    table = nodes_mesh.meshd.meshctl("get", "pods", "-A", "-o", "wide").stdout
    no_nominated_node_nor_readiness_gates = ["<none>", "<none>"]
    assert [line.split() for line in table.splitlines()[1:]] == [
        ["default", "echo-v1", "2/2", "Running", "0", "<unknown>", SIDECAR_ADDRESS, "node01"]
        + no_nominated_node_nor_readiness_gates,
        ["istio-system", "istio-ingressgateway", "1/1", "Running", "0", "<unknown>", GATEWAY_ADDRESS]
        + ["node02", *no_nominated_node_nor_readiness_gates],
    ]
    pod = json.loads(nodes_mesh.meshd.meshctl("get", "pods", "echo-v1", "-o", "json").stdout)
    assert (pod["spec"]["nodeName"], pod["status"]["podIP"], pod["status"]["hostIP"]) == (
        "node01",
        SIDECAR_ADDRESS,
        SIDECAR_ADDRESS,
    )


def test_prometheus_finds_every_proxy_on_its_address(nodes_mesh: NodesMesh) -> None:
    assert get(f"{nodes_mesh.gateway_url}/")[0] == 200
    groups = json.loads(nodes_mesh.meshd.monitoring_get("/v1/sd"))
    proxies = {g["labels"]["proxy"]: g for g in groups if "proxy" in g["labels"]}
    sidecar_stats = f"{SIDECAR_ADDRESS}:{nodes_mesh.sidecar.ports['stats']}"
    gateway_stats = f"{GATEWAY_ADDRESS}:{nodes_mesh.gateway.ports['stats']}"
    assert {name: (g["targets"], g["labels"]["node"]) for name, g in proxies.items()} == {
        "echo-v1.default": ([sidecar_stats], "node01"),
        "istio-ingressgateway.istio-system": ([gateway_stats], "node02"),
    }
    # Scraped as Prometheus does: each target at its __metrics_path__.
    reporters = {}
    for name, group in proxies.items():
        status, body = get(f"http://{group['targets'][0]}{group['labels']['__metrics_path__']}")
        assert status == 200
        reporters[name] = {
            line.split('reporter="', 1)[1].split('"', 1)[0]
            for line in body.decode().splitlines()
            if line.startswith("istio_requests_total{")
        }
    assert reporters == {"echo-v1.default": {"destination"}, "istio-ingressgateway.istio-system": {"source"}}
