"""The per-route features on their own: rewrites (with the match blocks compiled with the config), redirects,
header operations, faults, retries, timeouts, mirrors and the rebuilt response head."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from mesh_runtime import xds
from mesh_runtime.proxy import matchers, router, telemetry, wire
from mesh_runtime.proxy.downstream import DownstreamProtocol
from mesh_runtime.proxy.route_features import (
    apply_request_ops,
    merge_ops,
    on_timeout,
    redirect,
    retry_request,
    send_mirrors,
    write_rewritten_head,
)
from mesh_runtime.proxy.router import CompiledRoute, HeaderOps, compile_route, matched_block
from mesh_runtime.proxy.upstream import UpstreamConnection

from .harness import CLUSTER, NODE, Harness, default_route, head_of, make_harness, response, sidecar_config

TWO_BLOCKS = (
    xds.RouteMatch(uri=xds.StringMatch("exact", "/exact")),
    # Not this proxy's workload: compiled away, but its index still counts.
    xds.RouteMatch(uri=xds.StringMatch("prefix", "/never/"), source_labels={"app": "other"}),
    xds.RouteMatch(uri=xds.StringMatch("prefix", "/v2/")),
)


def routed(harness: Harness, data: bytes) -> tuple[DownstreamProtocol, bytes]:
    """A connection that has parsed and dispatched `data`, and what it sent upstream."""
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    client.data_received(data)
    return client, upstream.transport.take()


def test_matched_block_is_the_index_of_the_first_compiled_block_that_matches(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = make_harness(sidecar_config(), loop)
    route = compile_route(default_route(matches=TWO_BLOCKS), "r", {}, NODE)
    assert route is not None and [index for index, _ in route.match_blocks] == [0, 2]
    client, _ = harness.connect()
    client.path = b"/v2/a?x"
    assert matched_block(route, client) == 2
    client.path = b"/exact"
    assert matched_block(route, client) == 0
    client.path = b"/elsewhere"
    assert matched_block(route, client) == 0


def test_a_prefix_rewrite_uses_the_block_that_matched_without_compiling_per_request(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = default_route(matches=TWO_BLOCKS, rewrite=xds.Rewrite(uri="/api/"))
    harness = make_harness(sidecar_config(routes=(route,)), loop)

    def no_compiling(*_: object) -> None:
        raise AssertionError("a route match compiled while serving a request")

    monkeypatch.setattr(router, "compile_route_match", no_compiling)
    monkeypatch.setattr(matchers, "compile_route_match", no_compiling)
    _, sent = routed(harness, b"GET /v2/reviews?id=3 HTTP/1.1\r\nHost: reviews\r\n\r\n")
    assert head_of(sent)[0] == b"GET /api/reviews?id=3 HTTP/1.1"
    _, sent = routed(harness, b"GET /exact?q HTTP/1.1\r\nHost: reviews\r\n\r\n")
    assert head_of(sent)[0] == b"GET /api/?q HTTP/1.1"  # an exact match is replaced whole


def test_request_header_operations_keep_the_end_of_the_head_last_and_find_the_host_again(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, _ = harness.connect()
    client.lines = [b"GET / HTTP/1.1\r\n", b"X-Drop: a\r\n", b"Host: reviews\r\n", b"X-Keep: b\r\n", b"\r\n"]
    client.host_index = 2
    client.header(b"x-drop")  # builds the header dict, which the operations make stale
    apply_request_ops(client, HeaderOps(frozenset((b"x-drop", b"x-set")), b"x-set: 1\r\n"))
    assert client.lines == [
        b"GET / HTTP/1.1\r\n",
        b"Host: reviews\r\n",
        b"X-Keep: b\r\n",
        b"x-set: 1\r\n",
        b"\r\n",
    ]
    assert client.host_index == 1
    assert client.header(b"x-set") == b"1" and client.header(b"x-drop") is None


def test_a_route_removes_request_headers_and_rewrites_the_host(loop: asyncio.AbstractEventLoop) -> None:
    ops = xds.HeaderOperations(remove=("x-drop",))
    route = default_route(request_headers=ops, rewrite=xds.Rewrite(authority="reviews.internal"))
    harness = make_harness(sidecar_config(routes=(route,)), loop)
    client, sent = routed(harness, b"GET / HTTP/1.1\r\nX-Drop: a\r\nHost: reviews\r\nX-Keep: b\r\n\r\n")
    _, headers = head_of(sent)
    assert headers[b"x-keep"] == b"b" and b"x-drop" not in headers
    assert headers[b"host"] == b"reviews.internal"
    assert client.lines[client.host_index] == b"host: reviews.internal\r\n"


def test_a_set_header_survives_the_peer_line_being_blanked_for_an_endpoint_outside_the_mesh(
    loop: asyncio.AbstractEventLoop,
) -> None:
    # The client's own X-Set is dropped for the route's, so the peer line moves up one place.
    ops = xds.HeaderOperations(set={"x-set": "route"}, add={"x-added": "1"})
    harness = make_harness(sidecar_config(routes=(default_route(request_headers=ops),)), loop)
    client, sent = routed(harness, b"GET / HTTP/1.1\r\nX-Set: client\r\nHost: reviews\r\n\r\n")
    _, headers = head_of(sent)
    assert headers[b"x-set"] == b"route" and headers[b"x-added"] == b"1"
    assert headers[b"host"] == b"reviews"
    assert telemetry.PEER_HEADER not in headers  # blanked: the endpoint has no sidecar
    assert sent.endswith(b"\r\n\r\n")


def test_the_peer_line_goes_to_a_mesh_endpoint_beside_the_routes_headers(
    loop: asyncio.AbstractEventLoop,
) -> None:
    ops = xds.HeaderOperations(set={"x-set": "route"}, remove=("x-drop",))
    config = sidecar_config(routes=(default_route(request_headers=ops),))
    (assignment,) = config.endpoints
    config = dataclasses.replace(
        config,
        endpoints=(
            dataclasses.replace(assignment, endpoints=(xds.Endpoint("10.0.0.1", 9080, has_sidecar=True),)),
        ),
    )
    harness = make_harness(config, loop)
    harness.runtime.tls_optional = True
    client, sent = routed(harness, b"GET / HTTP/1.1\r\nX-Drop: a\r\nX-Set: b\r\nHost: reviews\r\n\r\n")
    _, headers = head_of(sent)
    assert headers[b"x-set"] == b"route" and b"x-drop" not in headers
    assert headers[telemetry.PEER_HEADER] == client.listener.peer_line.split(b":", 1)[1].strip()
    assert client.lines[client.peer_index] is client.listener.peer_line


def test_merged_header_operations_drop_both_sets_and_add_both_lines() -> None:
    first = HeaderOps(frozenset((b"a",)), b"a: 1\r\n")
    second = HeaderOps(frozenset((b"b",)), b"b: 2\r\n")
    assert merge_ops(None, second) is second
    assert merge_ops(first, second) == HeaderOps(frozenset((b"a", b"b")), b"a: 1\r\nb: 2\r\n")


def test_a_redirect_keeps_what_it_does_not_replace(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, transport = harness.connect()
    client.data_received(b"GET /old?x=1 HTTP/1.1\r\nHost: shop:8080\r\n\r\n")  # a 404 here: no such host
    transport.take()
    client.active = True
    route = CompiledRoute()
    route.redirect = xds.Redirect(port=8443, scheme="https", response_code=308)
    redirect(client, route)
    reply = transport.take()
    assert reply.startswith(b"HTTP/1.1 308")
    assert head_of(reply)[1][b"location"] == b"https://shop:8443/old?x=1"


def test_a_fault_abort_answers_before_any_upstream(loop: asyncio.AbstractEventLoop) -> None:
    route = default_route(fault_abort=xds.FaultAbort(http_status=418))
    harness = make_harness(sidecar_config(routes=(route,)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost: reviews\r\n\r\n")
    assert transport.take().startswith(b"HTTP/1.1 418")
    assert upstream.transport.take() == b""
    assert harness.runtime.stats.downstream_rq_by_flags == {wire.FAULT_INJECTED: 1}


def test_retries_stop_at_the_policys_count_and_at_the_clusters_budget(
    loop: asyncio.AbstractEventLoop,
) -> None:
    route = default_route(retry=xds.Retry(attempts=1))
    harness = make_harness(sidecar_config(routes=(route,)), loop)
    client, _ = routed(harness, b"GET / HTTP/1.1\r\nHost: reviews\r\n\r\n")
    cluster = harness.cluster()
    assert retry_request(client)
    assert client.retries_used == 1 and client.waiting and client.try_timer is not None
    assert cluster.active_retries == 1 and cluster.stats.upstream_rq_retry == 1
    assert not retry_request(client)  # one retry allowed
    client.retries_used = 0
    cluster.active_retries = cluster.max_retries = 1
    assert not retry_request(client)
    assert cluster.stats.upstream_rq_retry_overflow == 1
    assert retry_request(client, count=False)  # a free resend is not the policy's


def test_a_body_too_big_to_keep_is_not_retried(loop: asyncio.AbstractEventLoop) -> None:
    route = default_route(retry=xds.Retry(attempts=3))
    harness = make_harness(sidecar_config(routes=(route,)), loop)
    client, _ = routed(harness, b"POST / HTTP/1.1\r\nHost: reviews\r\nContent-Length: 9\r\n\r\n")
    client.replay = None  # (what on_body does past wire.RETRY_BUFFER_LIMIT)
    assert not retry_request(client)
    assert client.retries_used == 0


def test_the_route_timeout_is_a_504_before_the_response_and_a_cut_after(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, _ = routed(harness, b"GET / HTTP/1.1\r\nHost: reviews\r\n\r\n")
    transport = client.transport
    on_timeout(client)
    assert transport.take().startswith(b"HTTP/1.1 504")
    assert harness.cluster().stats.upstream_rq_timeout == 1
    assert harness.runtime.stats.downstream_rq_by_flags == {wire.UPSTREAM_REQUEST_TIMEOUT: 1}
    assert not client.active and not transport.closed

    client, _ = routed(harness, b"GET / HTTP/1.1\r\nHost: reviews\r\n\r\n")
    transport = client.transport
    upstream = client.upstream
    assert upstream is not None
    upstream.data_received(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
    transport.take()
    on_timeout(client)
    assert transport.closed and transport.take() == b""  # the response was cut short, not replaced
    assert harness.cluster().stats.upstream_rq_timeout == 1


def test_mirrors_are_abandoned_when_the_body_was_too_big_to_keep(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, _ = harness.connect()
    client.cluster = harness.cluster()
    client.replay = None
    send_mirrors(client, [(harness.cluster(), b"GET / HTTP/1.1\r\n\r\n")])
    assert client.mirrors is None
    assert harness.cluster().stats.retry_or_shadow_abandoned == 1
    assert harness.cluster().stats.upstream_rq_mirrored == 0


def test_the_rebuilt_response_head(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, transport = harness.connect()
    connection = UpstreamConnection(harness.endpoints()[0])
    connection.lines = [b"Transfer-Encoding: chunked\r\n", b"Connection: keep-alive\r\n", b"X-App: 1\r\n"]
    client.response_ops = HeaderOps(frozenset((b"x-app",)), b"x-added: 2\r\n")
    client.http10, client.keep_alive = False, True
    write_rewritten_head(client, connection, 201)
    assert transport.take() == (wire.status_line(201) + b"x-added: 2\r\ntransfer-encoding: chunked\r\n\r\n")
    assert client.response_chunked
    client.http10 = True  # an HTTP/1.0 client: no chunked framing, and the connection closes
    write_rewritten_head(client, connection, 200)
    assert transport.take() == wire.status_line(200) + b"x-added: 2\r\nconnection: close\r\n\r\n"
    assert not client.response_chunked


def test_a_retried_503_is_sent_to_the_other_endpoint(loop: asyncio.AbstractEventLoop) -> None:
    route = default_route(retry=xds.Retry(attempts=1, retry_on=("503",)))
    harness = make_harness(sidecar_config(routes=(route,), endpoints=2), loop)
    first, second = harness.pool()
    client, transport = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost: reviews\r\n\r\n")
    ((tried, _),) = harness.written_upstream()
    tried.respond(response(503))
    assert transport.take() == b""  # not passed on: retried
    handle = client.try_timer
    assert handle is not None
    handle._run()  # the back-off has passed
    ((retried, sent),) = harness.written_upstream()
    assert retried is not tried and head_of(sent)[1][b"x-envoy-attempt-count"] == b"2"
    retried.respond(response(200))
    assert transport.take().startswith(b"HTTP/1.1 200")
    assert harness.cluster(CLUSTER).stats.upstream_rq_retry == 1
