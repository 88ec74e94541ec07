"""Traffic mirroring, sans-io: the copy of a request (its body included) goes to the mirror cluster's pooled
connection once the request is complete; the client only ever sees the primary's response."""

from __future__ import annotations

import asyncio
import dataclasses

import httptools

from mesh_runtime import xds
from mesh_runtime.proxy import wire
from mesh_runtime.proxy.mirror import mirror_body, shadow_head

from .harness import OK_RESPONSE, Harness, default_route, head_of, make_harness, response, sidecar_config

MIRROR = "outbound|9080||reviews-mirror.default.svc.cluster.local"


def mirrored_harness(loop: asyncio.AbstractEventLoop, percentage: float = 100.0) -> Harness:
    """reviews, with every request mirrored to reviews-mirror (one endpoint, 10.0.1.1)."""
    base = sidecar_config(routes=(default_route(mirrors=(xds.Mirror(MIRROR, percentage),)),))
    mirror = xds.Cluster(name=MIRROR, service="reviews-mirror.default.svc.cluster.local", port=9080)
    endpoints = xds.ClusterLoadAssignment(MIRROR, (xds.Endpoint("10.0.1.1", 9080, has_sidecar=False),))
    config = dataclasses.replace(
        base, clusters=(*base.clusters, mirror), endpoints=(*base.endpoints, endpoints)
    )
    return make_harness(config, loop)


class _Request:
    def __init__(self) -> None:
        self.body = b""
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


def parsed_body(data: bytes) -> bytes:
    """The body of the one whole request in `data` (de-chunked when chunked)."""
    request = _Request()
    httptools.HttpRequestParser(request).feed_data(data)
    assert request.complete
    return request.body


def test_a_request_without_a_body_is_mirrored_at_once_with_a_shadow_host(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = mirrored_harness(loop)
    (primary,) = harness.pool()
    (mirror,) = harness.pool(name=MIRROR)
    client, transport = harness.connect()
    client.data_received(b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n")
    line, headers = head_of(mirror.transport.take())
    assert line == b"GET /reviews/0 HTTP/1.1"
    assert headers[b"host"] == b"reviews-shadow:9080"
    assert head_of(primary.transport.take())[1][b"host"] == b"reviews:9080"
    assert harness.cluster(MIRROR).stats.upstream_rq_mirrored == 1
    assert client.mirrors is None


def test_a_content_length_body_is_mirrored_whole_once_complete(loop: asyncio.AbstractEventLoop) -> None:
    harness = mirrored_harness(loop)
    (primary,) = harness.pool()
    (mirror,) = harness.pool(name=MIRROR)
    client, transport = harness.connect()
    body = b'{"reviewer": "ann", "stars": 5}'
    client.data_received(
        b"POST /reviews HTTP/1.1\r\nHost: reviews:9080\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body[:10])
    )
    assert primary.transport.buffer.endswith(body[:10])  # the primary is not held back
    assert mirror.transport.buffer == b""  # the copy waits for the whole body
    client.data_received(body[10:])
    sent = mirror.transport.take()
    line, headers = head_of(sent)
    assert line == b"POST /reviews HTTP/1.1"
    assert headers[b"host"] == b"reviews-shadow:9080"
    assert headers[b"content-length"] == b"%d" % len(body)
    assert headers[b"content-type"] == b"application/json"
    assert sent.split(b"\r\n\r\n", 1)[1] == body
    assert parsed_body(primary.transport.take()) == body
    mirror.respond(response(500, b"mirror says no"))
    assert transport.take() == b""  # the mirror's response goes nowhere
    primary.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE
    assert mirror.connection in harness.endpoints(MIRROR)[0].idle
    assert harness.cluster(MIRROR).stats.upstream_rq_mirrored == 1
    assert harness.cluster().stats.retry_or_shadow_abandoned == 0
    assert client.mirrors is None


def test_a_chunked_body_is_mirrored_chunked(loop: asyncio.AbstractEventLoop) -> None:
    harness = mirrored_harness(loop)
    (primary,) = harness.pool()
    (mirror,) = harness.pool(name=MIRROR)
    client, transport = harness.connect()
    client.data_received(
        b"POST /reviews HTTP/1.1\r\nHost: reviews:9080\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    assert mirror.transport.buffer == b""
    client.data_received(b"6\r\n world\r\n0\r\n\r\n")
    sent = mirror.transport.take()
    assert head_of(sent)[1][b"transfer-encoding"] == b"chunked"
    assert sent.endswith(b"\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert parsed_body(sent) == parsed_body(primary.transport.take()) == b"hello world"
    primary.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE


def test_an_empty_chunked_body_is_mirrored_as_the_last_chunk(loop: asyncio.AbstractEventLoop) -> None:
    harness = mirrored_harness(loop)
    harness.pool()
    (mirror,) = harness.pool(name=MIRROR)
    client, _ = harness.connect()
    client.data_received(
        b"POST /r HTTP/1.1\r\nHost: reviews:9080\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    assert mirror.transport.take().endswith(b"\r\n\r\n0\r\n\r\n")


def test_a_body_over_the_buffer_limit_abandons_the_mirror(loop: asyncio.AbstractEventLoop) -> None:
    harness = mirrored_harness(loop)
    (primary,) = harness.pool()
    (mirror,) = harness.pool(name=MIRROR)
    client, transport = harness.connect()
    body = b"x" * (wire.RETRY_BUFFER_LIMIT + 1)
    client.data_received(
        b"PUT /blob HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    for start in range(0, len(body), 16 * 1024):
        client.data_received(body[start : start + 16 * 1024])
    assert parsed_body(primary.transport.take()) == body  # the primary got all of it
    assert mirror.transport.buffer == b""
    assert mirror.connection in harness.endpoints(MIRROR)[0].idle  # never taken
    assert harness.cluster(MIRROR).stats.upstream_rq_mirrored == 0
    assert harness.cluster().stats.retry_or_shadow_abandoned == 1
    primary.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE
    assert client.mirrors is None


def test_a_body_over_the_limit_before_the_primary_connects_abandons_the_mirror(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = mirrored_harness(loop)
    (mirror,) = harness.pool(name=MIRROR)  # no pooled primary connection: the body is held for it
    client, _ = harness.connect()
    body = b"y" * (wire.RETRY_BUFFER_LIMIT + 1)
    client.data_received(
        b"PUT /blob HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert mirror.transport.buffer == b""
    assert harness.cluster().stats.retry_or_shadow_abandoned == 1


def test_a_body_exactly_at_the_limit_is_mirrored(loop: asyncio.AbstractEventLoop) -> None:
    harness = mirrored_harness(loop)
    harness.pool()
    (mirror,) = harness.pool(name=MIRROR)
    client, _ = harness.connect()
    body = b"z" * wire.RETRY_BUFFER_LIMIT
    client.data_received(
        b"PUT /blob HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert parsed_body(mirror.transport.take()) == body


def test_no_mirror_is_sent_when_the_exchange_ends_before_the_body(loop: asyncio.AbstractEventLoop) -> None:
    harness = mirrored_harness(loop)
    (primary,) = harness.pool()
    (mirror,) = harness.pool(name=MIRROR)
    client, transport = harness.connect()
    client.data_received(b"POST /r HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: 10\r\n\r\nabc")
    primary.respond(OK_RESPONSE)  # answered early: the connection closes, the rest is never read
    assert transport.take() == OK_RESPONSE and transport.closed
    assert mirror.transport.buffer == b""
    assert harness.cluster(MIRROR).stats.upstream_rq_mirrored == 0


def test_a_route_without_mirrors_keeps_no_mirror_state(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (primary,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(b"POST /r HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: 3\r\n\r\nabc")
    assert client.mirrors is None
    assert parsed_body(primary.transport.take()) == b"abc"
    primary.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE


def test_shadow_head_and_mirror_body() -> None:
    lines = [b"POST / HTTP/1.1\r\n", b"Host: web\r\n", b"a: b\r\n", b"x-envoy-attempt-count: 1\r\n\r\n"]
    assert shadow_head(lines, b"web") == b"POST / HTTP/1.1\r\nhost: web-shadow\r\na: b\r\n\r\n"
    assert shadow_head(lines, b"web:8080").split(b"\r\n")[1] == b"host: web-shadow:8080"
    assert mirror_body([b"ab", b"c"], chunked=False) == b"abc"
    assert mirror_body([b"ab", b"c"], chunked=True) == b"2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
    assert mirror_body([], chunked=True) == wire.LAST_CHUNK
