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


def test_a_line_is_what_json_dumps_writes_whatever_the_strings_hold() -> None:
    """The line is formatted without json.dumps of a dict; it must be byte for byte what json.dumps writes,
    for plain strings and for those that need escaping."""
    strings = [
        b"/plain",
        b'/with "quotes"',
        b"/back\\slash",
        b"/tab\tand\x01control",
        b"/latin-1 \xe9\xff",
        b"",
    ]
    for value in strings:
        stream = io.StringIO()
        log = AccessLog(stream, owned=False)
        log.write(
            1764787212.123456,
            0.0425,
            b"GET",
            value,
            "HTTP/1.1",
            503,
            "UH",
            10,
            20,
            "",
            "outbound|9080||r",
            value or None,
            value,
            None,
            b"10.0.0.1:5555",
        )
        text = value.decode("latin-1")
        expected = {
            "start_time": "2025-12-03T18:40:12.123Z",
            "method": "GET",
            "path": text,
            "protocol": "HTTP/1.1",
            "response_code": 503,
            "response_flags": "UH",
            "bytes_received": 10,
            "bytes_sent": 20,
            "duration": 42,
            "upstream_host": None,
            "upstream_cluster": "outbound|9080||r",
            "x_request_id": text or None,
            "authority": text,
            "user_agent": None,
            "downstream_remote_address": "10.0.0.1:5555",
        }
        assert stream.getvalue() == json.dumps(expected, separators=(",", ":")) + "\n", value


def test_the_id_the_proxy_made_is_logged(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    stream = io.StringIO()
    harness.runtime.access_log = AccessLog(stream, owned=False)
    (upstream,) = harness.pool()
    client, _ = harness.connect(("10.1.2.3", 5555))
    client.data_received(b"GET /reviews/1 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n")
    sent = upstream.transport.take()
    upstream.respond(OK_RESPONSE)
    (made,) = [line for line in sent.split(b"\r\n") if line.lower().startswith(b"x-request-id:")]
    entry = json.loads(stream.getvalue())
    assert entry["x_request_id"] == made.split(b":", 1)[1].strip().decode()
    assert entry["user_agent"] is None
