"""Recording an ended exchange, on its own: counters, Istio series (and the connection's last-series cache)
and the access-log line, from a connection whose exchange fields are set by hand."""

from __future__ import annotations

import asyncio
import io
import json

from mesh_runtime.proxy import wire
from mesh_runtime.proxy.accesslog import AccessLog
from mesh_runtime.proxy.downstream import DownstreamProtocol
from mesh_runtime.proxy.exchange_record import inbound_series, record_exchange

from .harness import Harness, make_harness, sidecar_config


def ended(harness: Harness, status: int = 200, flags: str = "") -> DownstreamProtocol:
    """A connection whose exchange (GET /r to the first endpoint) just ended with `status`."""
    client, _ = harness.connect(("10.9.9.9", 5555))
    client.method, client.path, client.url, client.authority = b"GET", b"/r", b"/r", b"reviews:9080"
    client.lines = [b"GET /r HTTP/1.1\r\n", b"x-request-id: rid-1\r\n", b"user-agent: probe\r\n", b"\r\n"]
    # What the parser notes of the x-request-id header.
    client.request_id, client.has_request_id = b"rid-1", True
    client.cluster = harness.cluster()
    client.endpoint = harness.endpoints()[0]
    client.status, client.response_started, client.flags = status, True, flags
    client.request_bytes, client.body_bytes, client.response_bytes = 40, 2, 90
    return client


def test_the_counters_of_an_exchange(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    record_exchange(ended(harness, 503, wire.UPSTREAM_OVERFLOW))
    stats = harness.runtime.stats
    assert stats.downstream_rq_by_code[503] == 1
    assert harness.cluster().stats.upstream_rq_by_code[503] == 1
    assert harness.endpoints()[0].rq_total == 1
    assert stats.downstream_rq_by_flags == {wire.UPSTREAM_OVERFLOW: 1}


def test_an_exchange_without_a_response_counts_as_code_0(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client = ended(harness, 200)
    client.response_started = False
    client.endpoint = None
    record_exchange(client)
    assert harness.runtime.stats.downstream_rq_by_code[0] == 1
    assert harness.runtime.stats.downstream_rq_by_code[200] == 0
    assert harness.cluster().stats.upstream_rq_by_code[0] == 0  # no endpoint: the cluster was never tried


def test_outbound_series_are_reused_while_target_status_and_flags_stay(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = make_harness(sidecar_config(), loop)
    metrics = harness.runtime.metrics
    client = ended(harness, 200)
    record_exchange(client)
    first = client.last_series
    assert first is not None and first.count == 1 and first.sums[1:] == [42, 90]
    assert client.last_target is harness.endpoints()[0] and client.last_status == 200
    metrics.series.clear()  # the cached series is used without a lookup
    record_exchange(client)
    assert client.last_series is first and first.count == 2 and not metrics.series
    client.status = 500
    record_exchange(client)
    assert client.last_series is not first and client.last_status == 500
    assert list(metrics.series.values()) == [client.last_series]


def test_metrics_off_records_no_series(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    harness.runtime.metrics_enabled = False
    client = ended(harness)
    record_exchange(client)
    assert client.last_series is None and not harness.runtime.metrics.series
    assert harness.runtime.stats.downstream_rq_by_code[200] == 1


def test_inbound_series_are_keyed_by_the_caller(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client = ended(harness)
    client.peer_identity = "spiffe://cluster.local/ns/default/sa/caller"
    one = inbound_series(client, 200, "")
    assert inbound_series(client, 200, "") is one
    client.peer_identity = ""
    assert inbound_series(client, 200, "") is not one


def test_the_access_log_line(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    stream = io.StringIO()
    harness.runtime.access_log = AccessLog(stream, owned=False)
    record_exchange(ended(harness, 504, wire.UPSTREAM_REQUEST_TIMEOUT))
    entry = json.loads(stream.getvalue())
    assert entry["method"] == "GET" and entry["path"] == "/r" and entry["protocol"] == "HTTP/1.1"
    assert entry["response_code"] == 504 and entry["response_flags"] == wire.UPSTREAM_REQUEST_TIMEOUT
    assert entry["bytes_received"] == 42 and entry["bytes_sent"] == 90
    assert entry["upstream_host"] == "10.0.0.1:9080"
    assert entry["upstream_cluster"] == harness.cluster().name
    assert entry["x_request_id"] == "rid-1" and entry["user_agent"] == "probe"
    assert entry["authority"] == "reviews:9080" and entry["downstream_remote_address"] == "10.9.9.9"


def test_a_disabled_access_log_writes_nothing(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    stream = io.StringIO()
    harness.runtime.access_log = AccessLog(stream, owned=False)
    harness.runtime.access_log.enabled = False
    record_exchange(ended(harness))
    assert stream.getvalue() == ""
