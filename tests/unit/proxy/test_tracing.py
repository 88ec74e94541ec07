"""Tracing, sans-io: B3 / traceparent created or propagated, the sampling decision, spans queued per hop and
their Zipkin v2 JSON."""

from __future__ import annotations

import asyncio

from mesh_runtime import xds
from mesh_runtime.proxy.tracing import (
    QUEUE_LIMIT,
    SpanContext,
    Tracer,
    incoming_context,
    outgoing_headers,
    start_span,
)

from .harness import OK_RESPONSE, head_of, make_harness, sidecar_config

TRACE = "463ac35c9f6413ad48485a3953bb6124"
SPAN = "a2fb4a1d1a96d312"


def headers(values: dict[bytes, bytes]):  # type: ignore[no-untyped-def]
    return values.get


def test_b3_is_read_first_then_traceparent() -> None:
    b3 = {b"x-b3-traceid": TRACE.encode(), b"x-b3-spanid": SPAN.encode(), b"x-b3-sampled": b"0"}
    assert incoming_context(headers(b3)) == (TRACE, SPAN, False)
    w3c = {b"traceparent": f"00-{TRACE}-{SPAN}-01".encode()}
    assert incoming_context(headers(w3c)) == (TRACE, SPAN, True)
    assert incoming_context(headers({b"x-b3-traceid": b"zz", b"traceparent": b"junk"})) == ("", "", None)
    assert incoming_context(headers({b"x-b3-traceid": TRACE.encode(), b"x-b3-flags": b"1"}))[2] is True


def test_a_new_trace_when_none_comes_in_sampled_by_percentage() -> None:
    span = start_span(headers({}), 100.0)
    assert len(span.trace_id) == 32 and len(span.span_id) == 16 and span.parent_id == "" and span.sampled
    assert not start_span(headers({}), 0.0).sampled


def test_an_incoming_decision_wins_over_the_percentage() -> None:
    sampled = {b"x-b3-traceid": TRACE.encode(), b"x-b3-spanid": SPAN.encode(), b"x-b3-sampled": b"1"}
    span = start_span(headers(sampled), 0.0)
    assert (span.trace_id, span.parent_id, span.sampled) == (TRACE, SPAN, True)
    assert span.span_id != SPAN


def test_outgoing_headers_carry_b3_and_traceparent() -> None:
    text = outgoing_headers(SpanContext(TRACE, "b" * 16, SPAN, True)).decode()
    assert f"x-b3-traceid: {TRACE}\r\n" in text
    assert "x-b3-spanid: bbbbbbbbbbbbbbbb\r\n" in text
    assert f"x-b3-parentspanid: {SPAN}\r\n" in text
    assert "x-b3-sampled: 1\r\n" in text
    assert f"traceparent: 00-{TRACE}-bbbbbbbbbbbbbbbb-01\r\n" in text


def test_the_queue_is_bounded() -> None:
    tracer = Tracer()
    span = SpanContext(TRACE, SPAN, "", True)
    for _ in range(QUEUE_LIMIT + 5):
        tracer.finish(span, "CLIENT", 0.0, 0.001, ("GET", "a", "/", "200", "", "c", "r", "h"))
    assert len(tracer.queue) == QUEUE_LIMIT and tracer.dropped == 5


def test_a_hop_propagates_the_trace_and_queues_its_client_span(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    tracer = harness.runtime.tracer
    tracer.collector = ("127.0.0.1", 9411)  # configured, without the sender task
    tracer.sampling = 0.0
    tracer.service_name = "productpage.default"
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(
        b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\nX-B3-TraceId: " + TRACE.encode() + b"\r\n"
        b"X-B3-SpanId: " + SPAN.encode() + b"\r\nX-B3-Sampled: 1\r\nx-request-id: rid-1\r\n\r\n"
    )
    sent = upstream.transport.take()
    _, forwarded = head_of(sent)
    assert sent.lower().count(b"x-b3-traceid") == 1  # the incoming headers were replaced, not repeated
    assert forwarded[b"x-b3-traceid"] == TRACE.encode()
    assert forwarded[b"x-b3-parentspanid"] == SPAN.encode()
    new_span = forwarded[b"x-b3-spanid"].decode()
    assert new_span != SPAN
    upstream.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE
    (entry,) = tracer.queue
    zipkin = tracer._zipkin(entry)
    assert zipkin["traceId"] == TRACE and zipkin["id"] == new_span and zipkin["parentId"] == SPAN
    assert zipkin["kind"] == "CLIENT"
    assert zipkin["localEndpoint"] == {"serviceName": "productpage.default"}
    assert zipkin["tags"]["http.status_code"] == "200"
    assert zipkin["tags"]["guid:x-request-id"] == "rid-1"
    assert zipkin["tags"]["upstream_cluster"] == "outbound|9080||reviews.default.svc.cluster.local"
    assert zipkin["duration"] >= 1


def test_no_tracing_without_a_collector(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    client.data_received(b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n")
    assert b"x-b3-traceid" not in upstream.transport.take()
    assert not harness.runtime.tracer.queue


def test_configure_reads_the_pushed_telemetry(loop: asyncio.AbstractEventLoop) -> None:
    node = xds.Node(
        "reviews-v2.default", "sidecar", "default", "reviews-v2", "bookinfo-reviews", {"app": "reviews"}
    )

    async def configure() -> Tracer:
        tracer = Tracer()
        tracer.configure(xds.Telemetry(trace_sampling=25.0, zipkin_address="127.0.0.1:9411"), node)
        await tracer.close()
        return tracer

    tracer = loop.run_until_complete(configure())
    assert tracer.collector == ("127.0.0.1", 9411)
    assert tracer.sampling == 25.0
    assert tracer.service_name == "reviews.default"


def test_trace_headers_cost_nothing_with_tracing_off(loop: asyncio.AbstractEventLoop) -> None:
    """Without a collector the incoming trace headers are forwarded as they came, and not even noted."""
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    client.data_received(
        b"GET /r HTTP/1.1\r\nHost: reviews:9080\r\nx-b3-traceid: 463ac35c9f6413ad\r\nx-b3-sampled: 1\r\n\r\n"
    )
    assert client.trace_headers is None
    sent = upstream.transport.take()
    assert b"x-b3-traceid: 463ac35c9f6413ad\r\n" in sent and b"traceparent" not in sent
