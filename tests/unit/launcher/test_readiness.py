"""The lab's readiness checks, each on its own: HTTP probes against a real server, the endpoints a spec
implies, the problems read from proxies' cluster statuses and proxy-status rows, and the poll loop."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_runtime.launcher import bookinfo_spec
from mesh_runtime.launcher.lab import Lab
from mesh_runtime.launcher.model import LabError
from mesh_runtime.launcher.processes import Child
from mesh_runtime.launcher.readiness import (
    cluster_problems,
    expected_endpoints,
    http_get,
    http_status,
    is_ok,
    revision,
    sync_problems,
    wait_for,
)


class _Answers(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status = 200 if self.path == "/ready" else 503 if self.path == "/draining" else 404
        body = self.path.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_probes_tell_statuses_apart_and_nothing_listening_is_zero(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy named in the environment is never used for the lab's own loopback addresses.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    assert http_get(f"{server}/ready") == b"/ready"
    assert (
        http_status(f"{server}/ready"),
        http_status(f"{server}/draining"),
        http_status(f"{server}/x"),
    ) == (
        200,
        503,
        404,
    )
    assert is_ok(f"{server}/ready") and not is_ok(f"{server}/draining")
    closed = server.rsplit(":", 1)[0] + ":1"
    assert http_status(closed) == 0


def test_a_version_carries_its_store_revision() -> None:
    assert [revision(v) for v in ("12.3", "7", "bootstrap", "")] == [12, 7, 0, 0]


def test_every_service_cluster_expects_its_workloads_sidecar_or_app(tmp_path: Path) -> None:
    lab = Lab(bookinfo_spec(gateway_routes=False), tmp_path)
    lab._plan()
    expected = expected_endpoints(lab.spec, lab.workloads)
    reviews = expected["outbound|9080||reviews.default.svc.cluster.local"]
    inbound = {f"127.0.0.1:{w.inbound_port}" for i, w in lab.workloads.items() if i.startswith("reviews-")}
    assert reviews == inbound and len(reviews) == 3
    assert set(expected) == {
        f"outbound|9080||{name}.default.svc.cluster.local"
        for name in ("productpage", "details", "reviews", "ratings")
    }


def test_cluster_problems_name_the_cluster_and_what_is_missing() -> None:
    expected = {"outbound|80||a": {"127.0.0.1:1", "127.0.0.1:2"}}
    statuses = [
        {"name": "outbound|80||a", "hosts": [{"address": "127.0.0.1:1", "health": "healthy"}]},
        {"name": "outbound|80||unrelated", "hosts": []},
    ]
    [problem] = cluster_problems("p1", statuses, expected)
    assert problem.startswith("p1: outbound|80||a has healthy endpoints ['127.0.0.1:1'] of 1")
    both = [{"address": a, "health": "healthy"} for a in ("127.0.0.1:1", "127.0.0.1:2")]
    assert cluster_problems("p1", [{"name": "outbound|80||a", "hosts": both}], expected) == []
    unhealthy = [*both, {"address": "127.0.0.1:3", "health": "unhealthy"}]
    assert cluster_problems("p1", [{"name": "outbound|80||a", "hosts": unhealthy}], expected) != []


def test_sync_problems_say_which_proxy_is_missing_stale_or_behind() -> None:
    rows = [
        {"id": "a", "state": "SYNCED", "acked_version": "5.1"},
        {"id": "b", "state": "STALE", "acked_version": "4.0", "last_error": "NACK: bad route"},
        {"id": "c", "state": "SYNCED", "acked_version": "3.2"},
    ]
    assert sync_problems(rows, ["a", "b", "c", "d"], min_revision=4) == [
        "b: STALE NACK: bad route",
        "c: acknowledged 3.2, not yet 4",
        "d: not connected to meshd",
    ]
    assert sync_problems(rows, ["a", "c"], min_revision=3) == []


def test_wait_for_returns_once_the_condition_holds(tmp_path: Path) -> None:
    answers = iter([False, False, True])
    wait_for("the third try", lambda: next(answers), [], 10, tmp_path)


def test_wait_for_times_out_with_the_explanation(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"timed out waiting for never; logs are in .*\nstill missing: x"):
        wait_for("never", lambda: False, [], 0.3, tmp_path, explain=lambda: "still missing: x")


def test_wait_for_names_a_watched_process_that_exits_with_its_log(tmp_path: Path) -> None:
    child = Child(
        "doomed app",
        (sys.executable, "-c", "print('cannot bind'); raise SystemExit(3)"),
        tmp_path / "app.log",
    ).start()
    child.wait(10)
    with pytest.raises(
        LabError, match=r"doomed app exited with status 3 while waiting for it(.|\n)*cannot bind"
    ):
        wait_for("it", lambda: False, [child], 10, tmp_path)
