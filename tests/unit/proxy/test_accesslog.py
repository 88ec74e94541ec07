"""The JSON access log: one line per request with Envoy's fields, off unless asked for."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

from mesh_runtime.proxy.accesslog import AccessLog

from .harness import OK_RESPONSE, make_harness, sidecar_config

GET = (
    b"GET /reviews/0?x=1 HTTP/1.1\r\nHost: reviews:9080\r\nUser-Agent: curl/8\r\nx-request-id: rid-7\r\n\r\n"
)


def test_one_json_line_per_request(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    stream = io.StringIO()
    harness.runtime.access_log = AccessLog(stream, owned=False)
    (upstream,) = harness.pool()
    client, _ = harness.connect(("10.1.2.3", 5555))
    client.data_received(GET)
    upstream.respond(OK_RESPONSE)
    client.data_received(b"GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["start_time"].endswith("Z") and first["duration"] >= 0
    assert {k: v for k, v in first.items() if k not in ("start_time", "duration")} == {
        "method": "GET",
        "path": "/reviews/0?x=1",
        "protocol": "HTTP/1.1",
        "response_code": 200,
        "response_flags": "-",
        "bytes_received": first["bytes_received"],
        "bytes_sent": len(OK_RESPONSE),
        "upstream_host": "10.0.0.1:9080",
        "upstream_cluster": "outbound|9080||reviews.default.svc.cluster.local",
        "x_request_id": "rid-7",
        "authority": "reviews:9080",
        "user_agent": "curl/8",
        "downstream_remote_address": "10.1.2.3",
    }
    assert first["bytes_received"] > len(GET)  # what went upstream: the head with the proxy's headers
    assert (second["response_code"], second["response_flags"]) == (404, "NR")
    assert (second["upstream_host"], second["upstream_cluster"]) == (None, None)  # not the previous request's


def test_the_pushed_telemetry_can_turn_it_off(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    stream = io.StringIO()
    harness.runtime.access_log = AccessLog(stream, owned=False)
    harness.runtime.access_log.enabled = False
    client, _ = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n")
    assert stream.getvalue() == ""


def test_an_unwritable_access_log_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mesh_runtime.proxy", "sidecar", f"--access-log={tmp_path}/missing/dir/log"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("mesh-proxy: --access-log: cannot write ")
    assert "Traceback" not in result.stderr
