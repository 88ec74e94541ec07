"""Two sidecars and two loopback apps as real processes, with certificates from a real mesh CA.

Sidecar A (service account `a`) has an outbound listener; sidecar B (`b`) has an inbound mTLS listener in
front of app B. Their configs are static files (`mesh-proxy --config-file`), so the data plane runs without
meshd. App B answers with what it received (headers included), streams big bodies, and reads slowly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mesh_runtime import xds
from mesh_runtime.ca import (
    CertificateAuthority,
    Identity,
    build_csr,
    generate_key,
    verify_cert_chain,
    write_credentials,
)
from tests.ports import free_port

TRUST_DOMAIN = "cluster.local"
CHUNK = 64 * 1024


def issue_credentials(authority: CertificateAuthority, directory: Path, service_account: str) -> Identity:
    identity = Identity(TRUST_DOMAIN, "default", service_account)
    key = generate_key()
    chain = authority.sign_csr(build_csr(key, identity), [identity])
    certificate = verify_cert_chain(chain.cert_chain, authority.trust_bundle(), identity, key=key)
    write_credentials(directory, key, certificate, authority.trust_bundle())
    return identity


class AppHandler(BaseHTTPRequestHandler):
    """App B: `/echo` answers what it got; `/big?mb=N` streams N MiB; `/sink` reads the body slowly."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/big"):
            megabytes = int(self.path.split("mb=", 1)[1])
            self.send_response(200)
            self.send_header("content-length", str(megabytes * 1024 * 1024))
            self.end_headers()
            block = b"x" * (1024 * 1024)
            for _ in range(megabytes):
                self.wfile.write(block)
            return
        self._answer({"method": self.command, "path": self.path, "headers": dict(self.headers.items())})

    def do_POST(self) -> None:
        if self.path.startswith("/sink"):
            remaining = int(self.headers["content-length"])
            received = 0
            while remaining:
                piece = self.rfile.read(min(CHUNK, remaining))
                if not piece:
                    break
                received += len(piece)
                remaining -= len(piece)
                time.sleep(0.001)
            self._answer({"received": received})
            return
        length = int(self.headers.get("content-length", "0"))
        self._answer({"method": "POST", "body": self.rfile.read(length).decode()})

    def _answer(self, document: object) -> None:
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Proxy:
    name: str
    process: subprocess.Popen[bytes]
    admin_port: int
    log: Path

    def admin(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5) as response:
            return str(response.read().decode())

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


@dataclass
class Mesh:
    a: Proxy
    b: Proxy
    outbound_port: int
    inbound_port: int
    app_port: int
    ports: dict[str, int] = field(default_factory=dict)


def cluster_to_b(
    name: str, inbound_port: int, expected: str
) -> tuple[xds.Cluster, xds.ClusterLoadAssignment]:
    cluster = xds.Cluster(
        name=name,
        service="b.default.svc.cluster.local",
        port=8000,
        tls=xds.TlsSettings(mode="ISTIO_MUTUAL", subject_alt_names=(expected,)),
    )
    endpoint = xds.Endpoint("127.0.0.1", inbound_port, identity=expected, has_sidecar=True, workload="b")
    return cluster, xds.ClusterLoadAssignment(name, (endpoint,))


def configs(outbound_port: int, inbound_port: int, app_port: int) -> tuple[xds.ProxyConfig, xds.ProxyConfig]:
    b_identity = f"spiffe://{TRUST_DOMAIN}/ns/default/sa/b"
    good, good_endpoints = cluster_to_b(
        "outbound|8000||b.default.svc.cluster.local", inbound_port, b_identity
    )
    wrong, wrong_endpoints = cluster_to_b(
        "outbound|8000|impostor|b.default.svc.cluster.local",
        inbound_port,
        f"spiffe://{TRUST_DOMAIN}/ns/default/sa/c",
    )
    routes = xds.RouteConfiguration(
        "8000",
        (
            xds.VirtualHost(
                "b:8000", ("b", "b:8000"), (xds.Route(clusters=(xds.WeightedCluster(good.name),)),)
            ),
            xds.VirtualHost(
                "impostor:8000", ("impostor:8000",), (xds.Route(clusters=(xds.WeightedCluster(wrong.name),)),)
            ),
        ),
    )
    a = xds.ProxyConfig(
        version="a-1",
        node=xds.Node(id="a.default", type="sidecar", namespace="default", workload="a", service_account="a"),
        listeners=(xds.Listener("outbound", "outbound", "127.0.0.1", outbound_port),),
        route_configs=(routes,),
        clusters=(good, wrong),
        endpoints=(good_endpoints, wrong_endpoints),
    )
    b = xds.ProxyConfig(
        version="b-1",
        node=xds.Node(id="b.default", type="sidecar", namespace="default", workload="b", service_account="b"),
        listeners=(
            xds.Listener(
                "inbound|8000",
                "inbound",
                "127.0.0.1",
                inbound_port,
                app_port=app_port,
                peer_authentication=xds.PeerAuthentication(mode="STRICT"),
            ),
        ),
    )
    return a, b


def start_proxy(name: str, config: xds.ProxyConfig, directory: Path, *flags: str) -> Proxy:
    admin_port = free_port()
    config_file = directory / "config.json"
    config_file.write_text(json.dumps(xds.encode(config)))
    log = directory / "proxy.log"
    command = [
        sys.executable,
        "-m",
        "mesh_runtime.proxy",
        "sidecar",
        "--namespace=default",
        f"--workload={name}",
        f"--service-account={name}",
        f"--admin-port={admin_port}",
        f"--config-file={config_file}",
        f"--data-dir={directory}",
        "--drain-seconds=1",
        *flags,
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    proxy = Proxy(name, process, admin_port, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mesh-proxy {name} exited: {log.read_text()}")
        try:
            if proxy.admin("/healthz/ready").strip() == "LIVE":
                return proxy
        except OSError:
            pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"mesh-proxy {name} not ready: {log.read_text()}")


def stop(proxy: Proxy) -> None:
    if proxy.process.poll() is None:
        proxy.process.terminate()
        try:
            proxy.process.wait(10)
        except subprocess.TimeoutExpired:
            proxy.process.kill()
            proxy.process.wait()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("mesh")
    authority = CertificateAuthority.load_or_create(root / "ca")
    for name in ("a", "b"):
        issue_credentials(authority, root / name, name)
    app = ThreadingHTTPServer(("127.0.0.1", 0), AppHandler)
    app.daemon_threads = True
    threading.Thread(target=app.serve_forever, daemon=True).start()
    app_port = int(app.server_address[1])
    outbound_port, inbound_port = free_port(), free_port()
    config_a, config_b = configs(outbound_port, inbound_port, app_port)
    proxies = []
    try:
        proxies.append(start_proxy("b", config_b, root / "b"))
        proxies.append(start_proxy("a", config_a, root / "a"))
        yield Mesh(proxies[1], proxies[0], outbound_port, inbound_port, app_port)
    finally:
        for proxy in proxies:
            stop(proxy)
        app.shutdown()
        app.server_close()
    for proxy in proxies:
        assert proxy.process.returncode == 0, proxy.log.read_text()
        assert "Traceback" not in proxy.log.read_text(), proxy.log.read_text()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("MESHLAB_SKIP_PROXY_INTEGRATION"):
        for item in items:
            item.add_marker(pytest.mark.skip(reason="MESHLAB_SKIP_PROXY_INTEGRATION is set"))
