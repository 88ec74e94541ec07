"""A VirtualService corsPolicy, end to end through a real mesh-proxy process: the Istio YAML is translated by
the control plane's route builder into a static config; the proxy answers preflights itself, adds the CORS
headers to responses for allowed origins, and leaves everything else as the app sent it."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from mesh_runtime import xds
from mesh_runtime.discovery.builder.routes import cors_policy

from .conftest import Proxy, free_port, start_proxy, stop

CLUSTER = "outbound|8080||web.default.svc.cluster.local"
SHOP = "https://shop.example"

#: Istio's corsPolicy as a user writes it; /ignore differs only in unmatchedPreflights, /plain has none.
CORS_YAML = """
allowOrigins:
- exact: https://shop.example
- prefix: https://admin.
allowMethods: [GET, PUT]
allowHeaders: [x-token, content-type]
exposeHeaders: [x-served-by]
maxAge: 24h
allowCredentials: true
"""


class Recorder(BaseHTTPRequestHandler):
    """The app: records every request it gets and answers 200 with its own header."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, dict[str, str]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.seen.append((self.command, self.path, headers))
        body = json.dumps({"method": self.command, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-served-by", "app")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_OPTIONS = _answer


@dataclass
class Site:
    proxy: Proxy
    port: int
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def send(self, method: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        """One request through the sidecar's outbound listener; the app's log is emptied first."""
        self.seen.clear()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, headers={"Host": "web:8080", **headers})
            response = connection.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            connection.close()


def site_config(outbound_port: int, app_port: int) -> xds.ProxyConfig:
    spec = yaml.safe_load(CORS_YAML)
    cors = cors_policy(spec)
    ignoring = cors_policy({**spec, "unmatchedPreflights": "IGNORE"})
    assert cors is not None and ignoring is not None

    def route(prefix: str, policy: xds.CorsPolicy | None) -> xds.Route:
        match = xds.RouteMatch(uri=xds.StringMatch("prefix", prefix))
        return xds.Route(matches=(match,), clusters=(xds.WeightedCluster(CLUSTER),), cors=policy)

    routes = (route("/ignore", ignoring), route("/plain", None), route("/", cors))
    return xds.ProxyConfig(
        version="cors-1",
        node=xds.Node(
            id="shop.default", type="sidecar", namespace="default", workload="shop", service_account="shop"
        ),
        listeners=(xds.Listener("outbound", "outbound", "127.0.0.1", outbound_port),),
        route_configs=(
            xds.RouteConfiguration("8080", (xds.VirtualHost("web:8080", ("web", "web:8080"), routes),)),
        ),
        clusters=(xds.Cluster(name=CLUSTER, service="web.default.svc.cluster.local", port=8080),),
        endpoints=(
            xds.ClusterLoadAssignment(CLUSTER, (xds.Endpoint("127.0.0.1", app_port, has_sidecar=False),)),
        ),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root: Path = tmp_path_factory.mktemp("cors")
    Recorder.seen = []
    app = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    app.daemon_threads = True
    threading.Thread(target=app.serve_forever, daemon=True).start()
    outbound_port = free_port()
    proxy = None
    try:
        proxy = start_proxy("shop", site_config(outbound_port, int(app.server_address[1])), root)
        yield Site(proxy, outbound_port, Recorder.seen)
    finally:
        if proxy is not None:
            stop(proxy)
        app.shutdown()
        app.server_close()
    assert proxy.process.returncode == 0, proxy.log.read_text()
    assert "Traceback" not in proxy.log.read_text(), proxy.log.read_text()


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "x-token",
    }


def test_a_preflight_from_an_allowed_origin_is_answered_by_the_proxy(site: Site) -> None:
    status, headers, body = site.send("OPTIONS", "/api/cart", **preflight(SHOP))
    assert status == 200 and body == b""
    assert site.seen == []  # the app never saw it
    assert headers["access-control-allow-origin"] == SHOP
    assert headers["access-control-allow-methods"] == "GET,PUT"
    assert headers["access-control-allow-headers"] == "x-token,content-type"
    assert headers["access-control-max-age"] == "86400"
    assert headers["access-control-allow-credentials"] == "true"
    assert "x-served-by" not in headers


def test_a_preflight_from_another_origin_goes_to_the_app_and_comes_back_untouched(site: Site) -> None:
    status, headers, _ = site.send("OPTIONS", "/api/cart", **preflight("https://evil.example"))
    assert status == 200 and headers["x-served-by"] == "app"
    assert [(method, path) for method, path, _ in site.seen] == [("OPTIONS", "/api/cart")]
    assert site.seen[0][2]["origin"] == "https://evil.example"
    assert not [name for name in headers if name.startswith("access-control-")]


def test_unmatched_preflights_ignored_are_answered_without_allowing_the_origin(site: Site) -> None:
    status, headers, _ = site.send("OPTIONS", "/ignore/cart", **preflight("https://evil.example"))
    assert status == 200 and site.seen == []
    assert "access-control-allow-origin" not in headers
    assert headers["access-control-allow-methods"] == "GET,PUT"


def test_a_request_from_an_allowed_origin_is_forwarded_and_its_response_gets_the_headers(site: Site) -> None:
    status, headers, body = site.send("GET", "/api/cart", Origin="https://admin.shop.example")
    assert status == 200 and json.loads(body) == {"method": "GET", "path": "/api/cart"}
    assert site.seen[0][2]["origin"] == "https://admin.shop.example"
    assert headers["access-control-allow-origin"] == "https://admin.shop.example"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["access-control-expose-headers"] == "x-served-by"
    assert "access-control-allow-methods" not in headers
    assert headers["x-served-by"] == "app"


def test_a_request_from_another_origin_is_left_alone(site: Site) -> None:
    status, headers, _ = site.send("GET", "/api/cart", Origin="https://evil.example")
    assert status == 200 and len(site.seen) == 1
    assert not [name for name in headers if name.startswith("access-control-")]


def test_a_route_without_a_cors_policy_forwards_preflights(site: Site) -> None:
    status, headers, _ = site.send("OPTIONS", "/plain/cart", **preflight(SHOP))
    assert status == 200 and [method for method, _, _ in site.seen] == ["OPTIONS"]
    assert not [name for name in headers if name.startswith("access-control-")]
