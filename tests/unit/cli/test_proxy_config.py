"""`meshctl proxy-config endpoint`: OUTLIER CHECK is the proxy's live view, read from its admin /clusters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mesh_runtime.cli.proxy_config import OUTLIER_FLAG, _endpoints, live_health
from mesh_runtime.discovery.builder import build_proxy_config
from tests.unit.discovery.snapshots import bookinfo_sidecars, bookinfo_snapshot

REVIEWS = "outbound|9080||reviews.default.svc.cluster.local"


@pytest.fixture
def admin() -> Iterator[tuple[int, dict[str, object]]]:
    """A stand-in for a proxy's admin port answering /clusters?format=json with what the test puts in it."""
    answer: dict[str, object] = {"cluster_statuses": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/clusters?format=json"
            body = json.dumps(answer).encode() if ok else b"no"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], answer
    finally:
        server.shutdown()
        server.server_close()


def _rows(table: str) -> dict[tuple[str, str], list[str]]:
    """(cluster, endpoint) → the row's words."""
    return {(r.split()[3], r.split()[0]): r.split() for r in table.splitlines()[1:] if r.strip()}


def test_an_endpoint_the_proxy_ejected_shows_outlier_check_failed(
    admin: tuple[int, dict[str, object]],
) -> None:
    port, answer = admin
    config = build_proxy_config(bookinfo_snapshot(), bookinfo_sidecars()[0])
    reviews = next(a for a in config.endpoints if a.cluster == REVIEWS)
    ejected, kept = (f"{e.address}:{e.port}" for e in reviews.endpoints[:2])
    answer["cluster_statuses"] = [
        {
            "name": REVIEWS,
            "hosts": [{"address": ejected, "health": OUTLIER_FLAG}, {"address": kept, "health": "healthy"}],
        }
    ]
    live = live_health(port)
    assert live == {(REVIEWS, ejected): OUTLIER_FLAG, (REVIEWS, kept): "healthy"}
    rows = _rows(_endpoints(config, live))
    assert rows[(REVIEWS, ejected)][1:3] == ["HEALTHY", "FAILED"]
    assert rows[(REVIEWS, kept)][1:3] == ["HEALTHY", "OK"]
    # Without the proxy's view (its admin not answering), no endpoint is said to have failed.
    assert {row[2] for row in _rows(_endpoints(config, None)).values()} == {"OK"}


def test_an_admin_that_does_not_answer_gives_no_live_view(admin: tuple[int, dict[str, object]]) -> None:
    port, answer = admin
    answer.pop("cluster_statuses")
    assert live_health(port) == {}
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        free_port = closed.server_address[1]
    assert live_health(free_port, timeout=1.0) == {}
