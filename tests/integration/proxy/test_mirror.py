"""Traffic mirroring through a real mesh-proxy process: requests to `web` go to the primary app and a copy
goes to the mirror app (Host `web-shadow`), bodies included; the client only gets the primary's answer, and
a body too big to buffer reaches the primary whole but is not mirrored."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mesh_runtime import xds
from mesh_runtime.proxy import wire

from .conftest import Proxy, free_port, start_proxy, stop

PRIMARY = "outbound|8080||web.default.svc.cluster.local"
MIRROR = "outbound|8080||web-mirror.default.svc.cluster.local"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class App(BaseHTTPRequestHandler):
    """Records every request with its whole body (content-length or chunked) and answers with its name."""

    protocol_version = "HTTP/1.1"
    name = ""
    status = 200
    seen: list[Received] = []

    def log_message(self, *args: object) -> None:
        pass

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def _answer(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(headers.get("content-length", "0")))
        self.seen.append(Received(self.command, self.path, headers, body))
        answer = json.dumps({"app": self.name, "received": len(body)}).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = _answer


class PrimaryApp(App):
    name = "primary"
    seen: list[Received] = []


class MirrorApp(App):
    name = "mirror"
    status = 503  # never seen by the client
    seen: list[Received] = []


@dataclass
class Site:
    proxy: Proxy
    port: int

    def send(
        self, method: str, path: str, body: bytes | Iterable[bytes] | None = None, **headers: str
    ) -> tuple[int, dict[str, object]]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers={"Host": "web:8080", **headers})
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def cluster_stat(self, cluster: str, name: str) -> int:
        stats = json.loads(self.proxy.admin("/stats?format=json"))["stats"]
        return int(next(s["value"] for s in stats if s["name"] == f"cluster.{cluster}.{name}"))


def wait_for(seen: list[Received], path: str) -> Received:
    """The request for `path` an app recorded (mirrors are fire and forget: they may land a little later)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for received in seen:
            if received.path == path:
                return received
        time.sleep(0.01)
    raise AssertionError(f"{path} never arrived; got {[r.path for r in seen]}")


def site_config(outbound_port: int, primary_port: int, mirror_port: int) -> xds.ProxyConfig:
    route = xds.Route(clusters=(xds.WeightedCluster(PRIMARY),), mirrors=(xds.Mirror(MIRROR, 100.0),))
    return xds.ProxyConfig(
        version="mirror-1",
        node=xds.Node(
            id="shop.default", type="sidecar", namespace="default", workload="shop", service_account="shop"
        ),
        listeners=(xds.Listener("outbound", "outbound", "127.0.0.1", outbound_port),),
        route_configs=(
            xds.RouteConfiguration("8080", (xds.VirtualHost("web:8080", ("web", "web:8080"), (route,)),)),
        ),
        clusters=(
            xds.Cluster(name=PRIMARY, service="web.default.svc.cluster.local", port=8080),
            xds.Cluster(name=MIRROR, service="web-mirror.default.svc.cluster.local", port=8080),
        ),
        endpoints=(
            xds.ClusterLoadAssignment(PRIMARY, (xds.Endpoint("127.0.0.1", primary_port, has_sidecar=False),)),
            xds.ClusterLoadAssignment(MIRROR, (xds.Endpoint("127.0.0.1", mirror_port, has_sidecar=False),)),
        ),
    )


def serve(handler: type[App]) -> ThreadingHTTPServer:
    handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root: Path = tmp_path_factory.mktemp("mirror")
    apps = [serve(PrimaryApp), serve(MirrorApp)]
    outbound_port = free_port()
    proxy = None
    try:
        config = site_config(outbound_port, int(apps[0].server_address[1]), int(apps[1].server_address[1]))
        proxy = start_proxy("shop", config, root)
        yield Site(proxy, outbound_port)
    finally:
        if proxy is not None:
            stop(proxy)
        for app in apps:
            app.shutdown()
            app.server_close()
    assert proxy.process.returncode == 0, proxy.log.read_text()
    assert "Traceback" not in proxy.log.read_text(), proxy.log.read_text()


def test_a_get_is_mirrored_with_a_shadow_host(site: Site) -> None:
    status, answer = site.send("GET", "/items/1")
    assert (status, answer["app"]) == (200, "primary")
    assert wait_for(PrimaryApp.seen, "/items/1").headers["host"] == "web:8080"
    assert wait_for(MirrorApp.seen, "/items/1").headers["host"] == "web-shadow:8080"


def test_a_json_post_reaches_both_apps_with_the_same_body(site: Site) -> None:
    body = json.dumps({"item": 7, "quantity": 2, "note": "ünïcode"}).encode()
    status, answer = site.send("POST", "/cart/json", body, **{"Content-Type": "application/json"})
    assert status == 200 and answer == {"app": "primary", "received": len(body)}
    primary = wait_for(PrimaryApp.seen, "/cart/json")
    mirror = wait_for(MirrorApp.seen, "/cart/json")
    assert primary.body == mirror.body == body
    assert mirror.method == "POST"
    assert mirror.headers["content-type"] == "application/json"
    assert mirror.headers["content-length"] == str(len(body))
    assert mirror.headers["host"] == "web-shadow:8080"
    assert mirror.headers["x-request-id"] == primary.headers["x-request-id"]


def test_a_chunked_post_reaches_both_apps_with_the_same_body(site: Site) -> None:
    pieces = [b"first piece;", b"second, longer piece;" * 50, b"last"]
    status, answer = site.send("POST", "/cart/chunked", iter(pieces))
    assert status == 200 and answer == {"app": "primary", "received": len(b"".join(pieces))}
    primary = wait_for(PrimaryApp.seen, "/cart/chunked")
    mirror = wait_for(MirrorApp.seen, "/cart/chunked")
    assert primary.headers["transfer-encoding"] == mirror.headers["transfer-encoding"] == "chunked"
    assert primary.body == mirror.body == b"".join(pieces)


def test_a_body_over_the_buffer_limit_reaches_the_primary_whole_but_is_not_mirrored(site: Site) -> None:
    mirrored = site.cluster_stat(MIRROR, "upstream_rq_mirrored")
    abandoned = site.cluster_stat(PRIMARY, "retry_or_shadow_abandoned")
    body = bytes(range(256)) * (wire.RETRY_BUFFER_LIMIT // 256 * 4)
    status, answer = site.send("PUT", "/blob/big", body)
    assert status == 200 and answer == {"app": "primary", "received": len(body)}
    assert wait_for(PrimaryApp.seen, "/blob/big").body == body
    # The mirror is given up when the body completes, before the primary can have answered.
    assert site.cluster_stat(PRIMARY, "retry_or_shadow_abandoned") == abandoned + 1
    assert site.cluster_stat(MIRROR, "upstream_rq_mirrored") == mirrored
    # A later request is mirrored as usual, and the big one never showed up before it.
    site.send("POST", "/blob/small", b"tiny")
    assert wait_for(MirrorApp.seen, "/blob/small").body == b"tiny"
    assert "/blob/big" not in [received.path for received in MirrorApp.seen]
