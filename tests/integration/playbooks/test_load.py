"""playbooks/files/load.py, the drills' load: against a real HTTP server on loopback that answers well,
degraded, with errors, or drops the connection, every request is counted once under the right outcome."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

import pytest

from tests.ports import free_port

LOAD = Path(__file__).resolve().parents[3] / "playbooks" / "files" / "load.py"
GOOD = "<h1>Book Details</h1><p>Reviews served by: reviews-v{n}</p>"
# Per 10 requests: 6 good pages (served by reviews-v1 or -v2), 2 degraded, 1 error status, 1 dropped.
PLAN = ["good"] * 6 + ["degraded", "degraded", "503", "drop"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    numbers = count()
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with self.lock:
            n = next(self.numbers)
        kind = PLAN[n % len(PLAN)]
        if kind == "drop":
            self.close_connection = True
            self.wfile.flush()
            self.connection.close()
            return
        status = 503 if kind == "503" else 200
        body = (
            GOOD.format(n=1 + n % 2) if kind == "good" else "Sorry, product reviews are currently unavailable"
        )
        data = body.encode()
        self.send_response(status)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.numbers = count()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/productpage"
    httpd.shutdown()
    httpd.server_close()


def load(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOAD), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_every_request_is_counted_once_under_its_outcome(server: str) -> None:
    result = load(
        server, "--requests=100", "--rate=200", "--concurrency=1", "--served-by=served by: ([-\\w]+)"
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["requests"] == 100
    assert counts["outcomes"] == {"ok": 60, "degraded": 20, "http_503": 10, "error_reset": 10}
    assert (counts["ok"], counts["failed"], counts["failed_share"]) == (60, 40, 0.4)
    assert counts["served_by"] == {"reviews-v1": 30, "reviews-v2": 30}
    assert counts["first_failure_at"] is not None


def test_expected_text_missing_makes_a_page_degraded(server: str) -> None:
    counts = json.loads(
        load(server, "--requests=10", "--rate=100", "--concurrency=1", "--expect=Nowhere").stdout
    )
    assert counts["ok"] == 0
    assert counts["outcomes"]["degraded"] == 8


def test_a_refused_connection_is_an_error_outcome() -> None:
    # Nothing listens there: every request is refused.
    port = free_port()
    counts = json.loads(load(f"http://127.0.0.1:{port}/", "--requests=5", "--rate=100").stdout)
    assert counts["outcomes"] == {"error_refused": 5}


@pytest.mark.parametrize(
    "args",
    [["ftp://127.0.0.1/"], ["http://127.0.0.1/", "--requests=0"], ["http://127.0.0.1/", "--served-by=("]],
)
def test_bad_arguments_are_one_line_errors(args: list[str]) -> None:
    result = load(*args)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
