"""The request path, sans-io: bytes in from a client, bytes out to pooled upstreams, and back."""

from __future__ import annotations

import asyncio

import pytest

from mesh_runtime import xds
from mesh_runtime.proxy import downstream, route_features

from .harness import (
    CLUSTER,
    OK_RESPONSE,
    default_route,
    head_of,
    make_harness,
    response,
    sidecar_config,
)

GET = b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\nUser-Agent: t\r\n\r\n"


def run_timer(handle: asyncio.TimerHandle | None) -> None:
    assert handle is not None and not handle.cancelled()
    handle._run()


def test_origin_form_request_is_forwarded_and_response_passed_through(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(GET)
    line, headers = head_of(upstream.transport.take())
    assert line == b"GET /reviews/0 HTTP/1.1"
    assert headers[b"host"] == b"reviews:9080"
    assert headers[b"user-agent"] == b"t"
    assert len(headers[b"x-request-id"]) == 36
    assert headers[b"x-forwarded-proto"] == b"http"
    assert headers[b"x-envoy-attempt-count"] == b"1"
    upstream.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE  # byte for byte
    assert not transport.closed
    assert upstream.connection in harness.endpoints()[0].idle  # back in the pool
    assert harness.runtime.stats.downstream_rq_by_code[200] == 1
    assert harness.cluster().stats.upstream_rq_by_code[200] == 1


def test_absolute_form_becomes_origin_form_and_sets_host(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    client.data_received(
        b"GET http://reviews:9080/reviews/0?x=1 HTTP/1.1\r\nHost: elsewhere\r\n"
        b"Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\nX-Request-Id: abc\r\n\r\n"
    )
    line, headers = head_of(upstream.transport.take())
    assert line == b"GET /reviews/0?x=1 HTTP/1.1"
    assert headers[b"host"] == b"reviews:9080"
    assert headers[b"x-request-id"] == b"abc"
    assert b"proxy-connection" not in headers and b"connection" not in headers


def test_unknown_host_is_404_no_route(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, transport = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost: ratings:9080\r\n\r\n")
    assert transport.take().startswith(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n")
    assert not transport.closed
    assert harness.runtime.stats.downstream_rq_by_flags == {"NR": 1}


def test_no_healthy_endpoint_is_503_uh(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(endpoints=0), loop)
    client, transport = harness.connect()
    client.data_received(GET)
    reply = transport.take()
    assert reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert reply.endswith(b"\r\n\r\nno healthy upstream")
    assert harness.runtime.stats.downstream_rq_by_flags == {"UH": 1}


def test_malformed_request_gets_400_and_close(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, transport = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost reviews\r\n\r\n")
    assert transport.take().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert transport.closed
    assert harness.runtime.stats.downstream_rq_protocol_error == 1


def test_oversized_headers_get_431(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, transport = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost: reviews\r\n")
    for _ in range(20):
        if transport.closed:
            break
        client.data_received(b"x-filler: " + b"a" * 8000 + b"\r\n")
    assert transport.take().startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert transport.closed


def test_too_many_headers_get_431(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, transport = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost: reviews\r\n" + b"x-a: b\r\n" * 120 + b"\r\n")
    assert transport.take().startswith(b"HTTP/1.1 431 ")


def test_503_is_retried_on_another_endpoint_by_default(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(endpoints=2), loop)
    first, second = harness.pool()
    client, transport = harness.connect()
    client.data_received(GET)
    ((tried, _),) = harness.written_upstream()
    tried.respond(response(503, b"busy"))
    assert transport.buffer == b""  # not passed on: retried
    assert tried.transport.closed
    run_timer(client.try_timer)  # the back-off
    ((retried, head),) = harness.written_upstream()
    assert retried is not tried  # Istio's previous_hosts predicate
    assert head_of(head)[1][b"x-envoy-attempt-count"] == b"2"
    retried.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE
    assert harness.cluster().stats.upstream_rq_retry == 1


@pytest.mark.parametrize(("backoff", "waits"), [(None, [0.025, 0.075]), (0.2, [0.2, 0.6]), (1.0, [1.0, 3.0])])
def test_the_wait_before_a_retry_follows_the_routes_backoff(
    loop: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
    backoff: float | None,
    waits: list[float],
) -> None:
    # The longest jittered wait (random() at its top): base x (2^n - 1), at most ten times the base.
    monkeypatch.setattr(route_features.random, "random", lambda: 1.0)
    route = default_route(retry=xds.Retry(attempts=2, backoff=backoff))
    harness = make_harness(sidecar_config(routes=(route,), endpoints=2), loop)
    harness.pool(2)
    client, _ = harness.connect()
    client.data_received(GET)
    for wait in waits:
        ((tried, _),) = harness.written_upstream()
        tried.respond(response(503, b"busy"))
        timer = client.try_timer
        assert timer is not None
        assert timer.when() - loop.time() == pytest.approx(wait, abs=0.01)
        run_timer(timer)


def test_retries_exhausted_pass_the_last_response(loop: asyncio.AbstractEventLoop) -> None:
    route = default_route(retry=xds.Retry(attempts=1, retry_on=("5xx",)))
    harness = make_harness(sidecar_config(routes=(route,), endpoints=2), loop)
    harness.pool()
    client, transport = harness.connect()
    client.data_received(GET)
    ((tried, _),) = harness.written_upstream()
    tried.respond(response(500))
    run_timer(client.try_timer)
    ((retried, _),) = harness.written_upstream()
    retried.respond(response(502, b"bad"))
    assert transport.take().startswith(b"HTTP/1.1 502")
    assert harness.runtime.stats.downstream_rq_by_flags == {"URX": 1}


def test_no_retry_when_disabled(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(routes=(default_route(retry=None),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(GET)
    upstream.respond(response(503))
    assert transport.take().startswith(b"HTTP/1.1 503")


def test_reset_before_headers_is_503_uc(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(routes=(default_route(retry=None),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(GET)
    upstream.connection.connection_lost(ConnectionResetError("reset"))
    reply = transport.take()
    assert reply.startswith(b"HTTP/1.1 503")
    assert reply.endswith(b"reset reason: connection termination")
    assert harness.runtime.stats.downstream_rq_by_flags == {"UC": 1}


def test_stale_pooled_connection_is_resent_once(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(routes=(default_route(retry=None),)), loop)
    first, second = harness.pool(count=2)
    client, transport = harness.connect()
    for _ in range(2):  # use both connections once, so that both count as reused
        client.data_received(GET)
        ((used, _),) = harness.written_upstream()
        used.respond(OK_RESPONSE)
    transport.take()
    client.data_received(GET)
    ((used, _),) = harness.written_upstream()
    used.connection.connection_lost(None)  # closed by the server while idle, unseen
    ((other, _),) = harness.written_upstream()
    assert other is not used
    other.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE


def test_chunked_request_body_is_streamed_rechunked(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    client.data_received(
        b"POST /r HTTP/1.1\r\nHost: reviews\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    sent = upstream.transport.take()
    assert sent.endswith(b"\r\n\r\n5\r\nhello\r\n")
    client.data_received(b"6\r\n world\r\n0\r\n\r\n")
    assert upstream.transport.take() == b"6\r\n world\r\n0\r\n\r\n"


def test_content_length_body_arrives_before_the_connection(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, _ = harness.connect()
    body = b"x" * 100
    client.data_received(b"PUT /r HTTP/1.1\r\nHost: reviews\r\nContent-Length: 100\r\n\r\n" + body)
    assert client.waiting  # connecting
    (upstream,) = harness.pool()
    harness.endpoints()[0].idle.clear()
    client.upstream_ready(upstream.connection)
    assert upstream.transport.take().endswith(b"\r\n\r\n" + body)


def test_head_response_does_not_wait_for_a_body(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(b"HEAD /r HTTP/1.1\r\nHost: reviews\r\n\r\n")
    upstream.respond(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
    assert transport.take() == b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"
    assert not client.active
    client.data_received(GET)  # the same upstream connection serves the next request
    upstream.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE


def test_pipelined_requests_are_answered_in_order(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(GET + b"GET /second HTTP/1.1\r\nHost: reviews\r\n\r\n")
    first = upstream.transport.take()
    assert head_of(first)[0] == b"GET /reviews/0 HTTP/1.1" and first.count(b"GET ") == 1
    upstream.respond(response(200, b"one"))
    assert head_of(upstream.transport.take())[0] == b"GET /second HTTP/1.1"
    upstream.respond(response(200, b"two"))
    replies = transport.take()
    assert replies.index(b"one") < replies.index(b"two")


def test_pipelined_requests_keep_their_own_bodies(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    names = (b"first", b"second", b"third", b"fourth")
    client.data_received(
        b"".join(
            b"POST /" + name + b" HTTP/1.1\r\nHost: reviews\r\nContent-Length: %d\r\n\r\n" % len(name) + name
            for name in names
        )
    )
    for name in names:
        sent = upstream.transport.take()
        assert head_of(sent)[0] == b"POST /" + name + b" HTTP/1.1"
        assert sent.endswith(b"\r\n\r\n" + name)
        upstream.respond(response(200, name.upper()))
    replies = transport.take()
    assert [replies.index(name.upper()) for name in names] == sorted(replies.index(n.upper()) for n in names)


def test_pipelined_requests_answered_by_the_proxy_are_all_answered(loop: asyncio.AbstractEventLoop) -> None:
    abort = default_route(fault_abort=xds.FaultAbort(http_status=503, percentage=100))
    harness = make_harness(sidecar_config(routes=(abort,)), loop)
    client, transport = harness.connect()
    client.data_received(
        b"".join(b"GET /%d HTTP/1.1\r\nHost: reviews\r\n\r\n" % number for number in range(4))
    )
    replies = transport.take()
    assert replies.count(b"HTTP/1.1 503") == 4
    assert not client.active and not transport.closed


def test_http10_client_gets_a_dechunked_response_and_close(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(b"GET /r HTTP/1.0\r\nHost: reviews\r\n\r\n")
    upstream.respond(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    reply = transport.take()
    assert b"transfer-encoding" not in reply.lower()
    assert reply.endswith(b"\r\n\r\nhello")
    assert transport.closed


def test_response_header_operations(loop: asyncio.AbstractEventLoop) -> None:
    ops = xds.HeaderOperations(set={"x-served-by": "mesh"}, remove=("server",))
    harness = make_harness(sidecar_config(routes=(default_route(response_headers=ops),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(GET)
    upstream.respond(response(200, b"ok", extra=b"Server: app\r\n"))
    line, headers = head_of(transport.take())
    assert headers[b"x-served-by"] == b"mesh"
    assert b"server" not in headers


def test_fault_abort_and_delay(loop: asyncio.AbstractEventLoop) -> None:
    abort = default_route(fault_abort=xds.FaultAbort(http_status=500, percentage=100))
    harness = make_harness(sidecar_config(routes=(abort,)), loop)
    client, transport = harness.connect()
    client.data_received(GET)
    assert transport.take().endswith(b"fault filter abort")
    assert harness.runtime.stats.downstream_rq_by_flags == {"FI": 1}

    delay = default_route(fault_delay=xds.FaultDelay(delay=7.0, percentage=100))
    harness = make_harness(sidecar_config(routes=(delay,)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(GET)
    assert upstream.transport.buffer == b""
    assert client.try_timer is not None and client.try_timer.when() - loop.time() > 6
    run_timer(client.try_timer)
    assert upstream.transport.take().startswith(b"GET /reviews/0")


def test_route_timeout_is_504_ut(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(routes=(default_route(timeout=0.5),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(GET)
    assert head_of(upstream.transport.take())[1][b"x-envoy-expected-rq-timeout-ms"] == b"500"
    run_timer(client.timer)
    assert transport.take().endswith(b"upstream request timeout")
    assert upstream.transport.closed  # the late response must not reach the next request


def test_direct_response_and_redirect(loop: asyncio.AbstractEventLoop) -> None:
    routes = (
        xds.Route(
            matches=(xds.RouteMatch(uri=xds.StringMatch("exact", "/gone")),),
            redirect=xds.Redirect(uri="/new", authority="example.com"),
        ),
        xds.Route(direct_response=xds.DirectResponse(418, "teapot")),
    )
    harness = make_harness(sidecar_config(routes=routes), loop)
    client, transport = harness.connect()
    client.data_received(b"GET /gone HTTP/1.1\r\nHost: reviews\r\n\r\n")
    _, headers = head_of(reply := transport.take())
    assert reply.startswith(b"HTTP/1.1 301") and headers[b"location"] == b"http://example.com/new"
    client.data_received(b"GET /other HTTP/1.1\r\nHost: reviews\r\n\r\n")
    assert transport.take().endswith(b"teapot")


def test_prefix_rewrite_and_authority(loop: asyncio.AbstractEventLoop) -> None:
    route = default_route(
        matches=(xds.RouteMatch(uri=xds.StringMatch("prefix", "/v1/")),),
        rewrite=xds.Rewrite(uri="/api/", authority="reviews.internal"),
    )
    harness = make_harness(sidecar_config(routes=(route,)), loop)
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    client.data_received(b"GET /v1/reviews?id=3 HTTP/1.1\r\nHost: reviews\r\n\r\n")
    line, headers = head_of(upstream.transport.take())
    assert line == b"GET /api/reviews?id=3 HTTP/1.1"
    assert headers[b"host"] == b"reviews.internal"


def test_connection_pool_overflow_is_503_uo(loop: asyncio.AbstractEventLoop) -> None:
    pool = xds.ConnectionPool(max_connections=1, max_pending_requests=1)
    cluster = xds.Cluster(name=CLUSTER, connection_pool=pool)
    harness = make_harness(sidecar_config(cluster=cluster), loop)
    harness.cluster().connections = 1  # the one allowed connection is busy
    first, _ = harness.connect()
    first.data_received(GET)
    assert first.waiting  # pending
    second, transport = harness.connect()
    second.data_received(GET)
    assert transport.take().endswith(b"reset reason: overflow")
    assert harness.runtime.stats.downstream_rq_by_flags == {"UO": 1}
    assert harness.cluster().stats.upstream_rq_pending_overflow == 1


def test_outlier_detection_ejects_after_consecutive_5xx(loop: asyncio.AbstractEventLoop) -> None:
    cluster = xds.Cluster(
        name=CLUSTER,
        outlier_detection=xds.OutlierDetection(consecutive_5xx_errors=2, max_ejection_percent=100),
    )
    harness = make_harness(sidecar_config(cluster=cluster, routes=(default_route(retry=None),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    for _ in range(2):
        client.data_received(GET)
        upstream.respond(response(500))
    assert harness.endpoints()[0].ejected
    client.data_received(GET)
    assert transport.take().endswith(b"no healthy upstream")
    assert harness.cluster().outlier is not None and harness.cluster().outlier.ejections_total == 1


def test_client_disconnect_mid_request_frees_the_upstream(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    client.data_received(GET)
    client.connection_lost(None)
    assert upstream.transport.closed  # the response in flight would be garbage for the next user
    assert harness.endpoints()[0].active_requests == 0
    assert harness.runtime.stats.downstream_rq_by_flags == {"DC": 1}
    assert harness.runtime.stats.downstream_cx_active == 0


def test_exceptions_are_contained(loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch) -> None:
    harness = make_harness(sidecar_config(), loop)
    client, transport = harness.connect()

    def broken(*_: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(downstream, "find_route", broken)  # the router's lookup, as downstream calls it
    client.data_received(GET)
    assert transport.closed
    assert transport.take().startswith(b"HTTP/1.1 500")
    assert harness.runtime.stats.errors_contained == 1


# -- CORS (Envoy's CORS filter, per route) -------------------------------------------------------------

CORS = xds.CorsPolicy(
    allow_origins=(xds.StringMatch("exact", "https://shop.example"),),
    allow_methods=("GET", "PUT"),
    allow_headers=("x-token",),
    expose_headers=("x-served-by",),
    max_age=600.0,
    allow_credentials=True,
)


def preflight(origin: bytes) -> bytes:
    return (
        b"OPTIONS /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\nOrigin: " + origin + b"\r\n"
        b"Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: x-token\r\n\r\n"
    )


def get_from(origin: bytes) -> bytes:
    return b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\nOrigin: " + origin + b"\r\n\r\n"


def test_cors_preflight_from_an_allowed_origin_is_answered_here(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(routes=(default_route(cors=CORS),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(preflight(b"https://shop.example"))
    assert upstream.transport.buffer == b""
    line, headers = head_of(transport.take())
    assert line == b"HTTP/1.1 200 OK"
    assert headers[b"access-control-allow-origin"] == b"https://shop.example"
    assert headers[b"access-control-allow-methods"] == b"GET,PUT"
    assert headers[b"access-control-allow-headers"] == b"x-token"
    assert headers[b"access-control-max-age"] == b"600"
    assert headers[b"access-control-allow-credentials"] == b"true"
    assert b"access-control-expose-headers" not in headers
    assert headers[b"content-length"] == b"0"
    assert not transport.closed
    assert harness.runtime.stats.downstream_rq_by_code[200] == 1
    client.data_received(GET)  # the connection serves the next request
    assert upstream.transport.take().startswith(b"GET /reviews/0")


def test_cors_preflight_from_another_origin_is_forwarded_untouched(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(routes=(default_route(cors=CORS),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(preflight(b"https://evil.example"))
    line, headers = head_of(upstream.transport.take())
    assert line == b"OPTIONS /reviews/0 HTTP/1.1"
    assert headers[b"origin"] == b"https://evil.example"
    assert headers[b"access-control-request-method"] == b"PUT"
    upstream.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE


def test_cors_unmatched_preflight_ignored_is_answered_without_allow_origin(
    loop: asyncio.AbstractEventLoop,
) -> None:
    ignore = xds.CorsPolicy(
        allow_origins=CORS.allow_origins, allow_methods=("GET",), unmatched_preflights="IGNORE"
    )
    harness = make_harness(sidecar_config(routes=(default_route(cors=ignore),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(preflight(b"https://evil.example"))
    assert upstream.transport.buffer == b""
    line, headers = head_of(transport.take())
    assert line == b"HTTP/1.1 200 OK"
    assert b"access-control-allow-origin" not in headers
    assert headers[b"access-control-allow-methods"] == b"GET"


def test_cors_request_from_an_allowed_origin_gets_the_response_headers(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = make_harness(sidecar_config(routes=(default_route(cors=CORS),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(get_from(b"https://shop.example"))
    _, sent = head_of(upstream.transport.take())
    assert sent[b"origin"] == b"https://shop.example"
    upstream.respond(response(200, b"ok", extra=b"Access-Control-Allow-Origin: *\r\nX-App: 1\r\n"))
    reply = transport.take()
    _, headers = head_of(reply)
    assert headers[b"access-control-allow-origin"] == b"https://shop.example"  # replaces the app's
    assert reply.lower().count(b"access-control-allow-origin") == 1
    assert headers[b"access-control-allow-credentials"] == b"true"
    assert headers[b"access-control-expose-headers"] == b"x-served-by"
    assert b"access-control-allow-methods" not in headers
    assert headers[b"x-app"] == b"1" and reply.endswith(b"\r\n\r\nok")


def test_cors_request_from_another_origin_or_none_is_passed_byte_for_byte(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = make_harness(sidecar_config(routes=(default_route(cors=CORS),)), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    for request in (get_from(b"https://evil.example"), GET):
        client.data_received(request)
        assert upstream.transport.take().startswith(b"GET /reviews/0")
        upstream.respond(OK_RESPONSE)
        assert transport.take() == OK_RESPONSE


def test_cors_headers_on_local_replies_but_not_on_fault_aborts(loop: asyncio.AbstractEventLoop) -> None:
    routes = (
        xds.Route(
            matches=(xds.RouteMatch(uri=xds.StringMatch("exact", "/teapot")),),
            direct_response=xds.DirectResponse(418, "teapot"),
            cors=CORS,
        ),
        default_route(cors=CORS, fault_abort=xds.FaultAbort(http_status=503, percentage=100)),
    )
    harness = make_harness(sidecar_config(routes=routes), loop)
    client, transport = harness.connect()
    client.data_received(b"GET /teapot HTTP/1.1\r\nHost: reviews\r\nOrigin: https://shop.example\r\n\r\n")
    line, headers = head_of(transport.take())
    assert line.startswith(b"HTTP/1.1 418")
    assert headers[b"access-control-allow-origin"] == b"https://shop.example"
    client.data_received(get_from(b"https://shop.example"))
    line, headers = head_of(transport.take())
    assert line.startswith(b"HTTP/1.1 503")
    assert b"access-control-allow-origin" not in headers
