"""The per-route features beyond plain forwarding: CORS, fault injection (aborts and delays), direct
responses and redirects, path and authority rewrites, header operations, mirrors, retries and timeouts.

These are Envoy's HTTP filters and router policies; here they are functions of the downstream exchange
(through the `RoutedExchange` protocol), kept out of the connection's state machine, which only decides
when they run: a route with any of them is `slow` and goes through `slow_route` once it is matched, and the
state machine calls `retry_request` and the timeout callbacks when an attempt fails or runs late. A route
without them never reaches this module.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Protocol

from . import wire
from .cors import OPTIONS, ORIGIN, REQUEST_HEADERS, REQUEST_METHOD, CompiledCors
from .matchers import RequestView
from .mirror import mirror_body, send_mirror, shadow_head
from .outlier import LOCAL_FAILURE_STATUS
from .router import DIRECT_RESPONSE, REDIRECT, CompiledRoute, HeaderOps, matched_block, rewrite_path

if TYPE_CHECKING:
    import asyncio

    from .cluster import ClusterState, EndpointState
    from .runtime import ConnectionRuntime
    from .upstream import UpstreamConnection

_SP = b" "
_RESPONSE_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)


class RoutedExchange(RequestView, Protocol):
    """The downstream connection's current exchange, as the route features read and steer it."""

    runtime: ConnectionRuntime
    transport: Any
    lines: list[bytes]
    host_index: int
    peer_index: int
    header_map: dict[bytes, bytes] | None
    has_body: bool
    is_head: bool
    request_chunked: bool
    http10: bool
    keep_alive: bool
    replay: list[bytes] | None
    replay_bytes: int
    route: CompiledRoute | None
    cluster: ClusterState | None
    endpoint: EndpointState | None
    response_ops: HeaderOps | None
    rewrite_response: bool
    response_chunked: bool
    response_started: bool
    mirrors: list[tuple[ClusterState, bytes]] | None
    timer: asyncio.TimerHandle | None
    try_timer: asyncio.TimerHandle | None
    waiting: bool
    retries_used: int
    active: bool
    closed: bool

    def reply(self, status: int, body: bytes, flag: str, extra: bytes = b"", cors: bool = True) -> None: ...

    def attempt_upstream(self) -> None: ...

    def add_flag(self, flag: str) -> None: ...

    def drop_upstream(self, reusable: bool) -> None: ...

    def end_exchange(self, keep_alive: bool) -> None: ...


# -- the slow path: CORS, faults, direct responses, redirects, rewrites, mirrors --------------------------


def slow_route(exchange: RoutedExchange, route: CompiledRoute) -> None:
    """Serve a matched route that has more to it than forwarding, in Envoy's filter order."""
    cors = route.cors
    if cors is not None and apply_cors(exchange, cors):
        return
    if route.action == DIRECT_RESPONSE:
        assert route.direct_response is not None
        exchange.reply(route.direct_response.status, route.direct_response.body.encode(), "")
        return
    if route.action == REDIRECT:
        redirect(exchange, route)
        return
    if route.targets:
        target = route.pick_target()
        exchange.cluster = target.cluster
        if target.request_ops is not None:
            apply_request_ops(exchange, target.request_ops)
        if target.response_ops is not None:
            exchange.response_ops = merge_ops(exchange.response_ops, target.response_ops)
            exchange.rewrite_response = True
    if route.rewrite is not None:
        rewrite(exchange, route)
    if route.request_ops is not None:
        apply_request_ops(exchange, route.request_ops)
    abort = route.fault_abort
    if abort is not None and random.random() * 100 < abort.percentage:
        exchange.add_flag(wire.FAULT_INJECTED)
        # Envoy's fault filter answers before the CORS filter has seen the request.
        exchange.reply(abort.http_status, wire.BODY_FAULT_ABORT, "", cors=False)
        return
    if route.mirrors:
        pick_mirrors(exchange, route)
    if route.timeout is not None:
        exchange.timer = exchange.runtime.loop.call_later(route.timeout, on_timeout, exchange)
    delay = route.fault_delay
    if delay is not None and random.random() * 100 < delay.percentage:
        exchange.add_flag(wire.DELAY_INJECTED)
        exchange.waiting = True
        exchange.try_timer = exchange.runtime.loop.call_later(delay.delay, after_delay, exchange)
        return
    exchange.attempt_upstream()


def apply_cors(exchange: RoutedExchange, cors: CompiledCors) -> bool:
    """Envoy's CORS filter on a request: True when it answered a preflight itself. From an allowed
    origin, any other request's response will carry the policy's headers."""
    origin = exchange.header(ORIGIN)
    if not origin:
        return False
    allowed = cors.origin_allowed(origin)
    if exchange.method == OPTIONS:
        method = exchange.header(REQUEST_METHOD)
        if method:
            if not cors.answers_preflight(allowed):
                return False  # forwarded as it came; the response is left alone
            lines = cors.preflight_headers(
                origin if allowed else None, method, exchange.header(REQUEST_HEADERS) or b""
            )
            exchange.reply(200, b"", "", extra=lines, cors=False)
            return True
    if allowed:
        added = HeaderOps(cors.response_drop, cors.response_lines(origin))
        exchange.response_ops = merge_ops(exchange.response_ops, added)
        exchange.rewrite_response = True
    return False


def cors_reply_lines(exchange: RoutedExchange, cors: CompiledCors) -> bytes:
    """A local reply (direct response, redirect, error) to a request from an allowed origin."""
    origin = exchange.header(ORIGIN)
    if not origin or not cors.origin_allowed(origin):
        return b""  # (an allowed preflight never gets here: it was answered by apply_cors)
    return cors.response_lines(origin)


def after_delay(exchange: RoutedExchange) -> None:
    """An injected delay has passed: go on with the request, unless it ended meanwhile."""
    exchange.try_timer = None
    exchange.waiting = False
    if exchange.active and not exchange.closed:
        exchange.attempt_upstream()


def redirect(exchange: RoutedExchange, route: CompiledRoute) -> None:
    redirect = route.redirect
    assert redirect is not None
    scheme = redirect.scheme.encode() if redirect.scheme else exchange.scheme
    authority = redirect.authority.encode() if redirect.authority else exchange.authority
    if redirect.port is not None:
        authority = authority.rsplit(b":", 1)[0] if b":" in authority else authority
        authority += b":%d" % redirect.port
    path = redirect.uri.encode() if redirect.uri else exchange.path
    location = b"location: " + scheme + b"://" + authority + path + wire.CRLF
    exchange.reply(redirect.response_code, b"", "", extra=location)


def rewrite(exchange: RoutedExchange, route: CompiledRoute) -> None:
    """Istio's rewrite: the path (by the match block that matched, compiled with the route) and the host."""
    rewrite = route.rewrite
    assert rewrite is not None
    if rewrite.prefix is not None or rewrite.regex is not None:
        block = matched_block(route, exchange)
        exchange.path = rewrite_path(rewrite, exchange.path, exchange.path_only(), block)
        exchange.lines[0] = exchange.method + _SP + exchange.path + wire.HTTP11
    if rewrite.authority is not None:
        exchange.authority = rewrite.authority
        line = b"host: " + rewrite.authority + wire.CRLF
        if exchange.host_index:
            exchange.lines[exchange.host_index] = line
        else:
            exchange.lines.insert(len(exchange.lines) - 1, line)


def apply_request_ops(exchange: RoutedExchange, ops: HeaderOps) -> None:
    """The route's header operations on the head to forward; the lines other fields point at (the host,
    the caller's peer metadata) are found again, as dropped lines move the ones after them."""
    end = exchange.lines.pop()
    peer_line = exchange.lines[exchange.peer_index] if exchange.peer_index else None
    exchange.lines = ops.apply(exchange.lines, 1)
    exchange.lines.append(end)
    exchange.host_index = next(
        (i for i, line in enumerate(exchange.lines) if i and line[:5].lower() == b"host:"), 0
    )
    if peer_line is not None:
        # The same object, not an equal line: a route may not forge it, and one that removes it drops it.
        exchange.peer_index = next((i for i, line in enumerate(exchange.lines) if line is peer_line), 0)
    exchange.header_map = None


def merge_ops(first: HeaderOps | None, second: HeaderOps) -> HeaderOps:
    if first is None:
        return second
    return HeaderOps(first.drop | second.drop, first.lines + second.lines)


def write_rewritten_head(exchange: RoutedExchange, connection: UpstreamConnection[Any], status: int) -> None:
    """The response head rebuilt (response header operations, an HTTP/1.0 client) and written downstream."""
    lines = [wire.status_line(status)]
    chunked = False
    for line in connection.lines:
        name = line.split(b":", 1)[0].strip().lower()
        if name in _RESPONSE_HOP:
            if name == b"transfer-encoding":
                chunked = True
            continue
        lines.append(line)
    if exchange.response_ops is not None:
        lines = exchange.response_ops.apply(lines, 1)
    if chunked and not exchange.http10:
        lines.append(b"transfer-encoding: chunked\r\n")
    exchange.response_chunked = chunked and not exchange.http10
    if exchange.http10 or not exchange.keep_alive or not connection.keep_alive:
        lines.append(b"connection: close\r\n")
    lines.append(wire.CRLF)
    exchange.transport.write(b"".join(lines))


# -- mirrors -----------------------------------------------------------------------------------------------


def pick_mirrors(exchange: RoutedExchange, route: CompiledRoute) -> None:
    """Pick the route's mirrors (each by its percentage): sent now without a body, else once the body
    is complete (`send_mirrors`, from on_message_complete)."""
    head = b""
    waiting: list[tuple[ClusterState, bytes]] = []
    for cluster, percentage in route.mirrors:
        if percentage >= 100 or random.random() * 100 < percentage:
            head = head or shadow_head(exchange.lines, exchange.authority)
            if exchange.has_body:
                waiting.append((cluster, head))
            else:
                send_mirror(exchange.runtime, cluster, head, exchange.is_head)
    exchange.mirrors = waiting or None


def send_mirrors(exchange: RoutedExchange, mirrors: list[tuple[ClusterState, bytes]]) -> None:
    """The body is complete: mirror it with the copy kept for retries, or abandon the mirrors when it
    was too big to keep (Envoy's retry_or_shadow_abandoned)."""
    exchange.mirrors = None
    replay = exchange.replay
    if replay is None or exchange.replay_bytes > wire.RETRY_BUFFER_LIMIT:
        if exchange.cluster is not None:
            exchange.cluster.stats.retry_or_shadow_abandoned += 1
        return
    body = mirror_body(replay, exchange.request_chunked)
    for cluster, head in mirrors:
        send_mirror(exchange.runtime, cluster, head, exchange.is_head, body)


# -- retries and timeouts ----------------------------------------------------------------------------------


def retry_request(exchange: RoutedExchange, count: bool = True) -> bool:
    """Try again on another connection (and endpoint, when there is one); False when not allowed.
    `count`: a retry of the route's policy (else a free resend, on a pooled connection found closed)."""
    route = exchange.route
    cluster = exchange.cluster
    if route is None or cluster is None or (exchange.has_body and exchange.replay is None) or exchange.closed:
        return False
    retry = route.retry
    if count:
        if retry is None or exchange.retries_used >= retry.retries:
            return False
        if cluster.active_retries >= cluster.max_retries:
            cluster.stats.upstream_rq_retry_overflow += 1
            return False
        exchange.retries_used += 1
        cluster.stats.upstream_rq_retry += 1
    exchange.drop_upstream(reusable=False)
    if exchange.try_timer is not None:
        exchange.try_timer.cancel()
    if not count or retry is None:
        exchange.try_timer = None
        exchange.attempt_upstream()
        return True
    # Envoy's fully jittered exponential back-off (base: the route's `backoff`, else 25 ms).
    delay = random.random() * min(retry.backoff_base * (2**exchange.retries_used - 1), retry.backoff_max)
    cluster.active_retries += 1
    exchange.waiting = True
    exchange.try_timer = exchange.runtime.loop.call_later(delay, retry_now, exchange, cluster)
    return True


def retry_now(exchange: RoutedExchange, cluster: ClusterState) -> None:
    cluster.active_retries -= 1
    exchange.try_timer = None
    exchange.waiting = False
    if exchange.active and not exchange.closed:
        exchange.attempt_upstream()


def on_try_timeout(exchange: RoutedExchange) -> None:
    """The retry policy's per-try timeout: count it, then retry or answer 504."""
    exchange.try_timer = None
    if not exchange.active or exchange.response_started:
        return
    cluster = exchange.cluster
    if cluster is not None:
        cluster.stats.upstream_rq_per_try_timeout += 1
    endpoint = exchange.endpoint
    if endpoint is not None and cluster is not None and cluster.outlier is not None:
        cluster.outlier.record(endpoint, LOCAL_FAILURE_STATUS)
    retry = exchange.route.retry if exchange.route is not None else None
    if retry is not None and retry.on_per_try_timeout and retry_request(exchange):
        return
    timeout_reply(exchange)


def on_timeout(exchange: RoutedExchange) -> None:
    """The route's timeout: a 504 before the response has started, else the response is cut short."""
    exchange.timer = None
    if not exchange.active:
        return
    if exchange.response_started:
        exchange.drop_upstream(reusable=False)
        exchange.end_exchange(keep_alive=False)
        return
    timeout_reply(exchange)


def timeout_reply(exchange: RoutedExchange) -> None:
    if exchange.cluster is not None:
        exchange.cluster.stats.upstream_rq_timeout += 1
    exchange.drop_upstream(reusable=False)
    exchange.add_flag(wire.UPSTREAM_REQUEST_TIMEOUT)
    exchange.reply(504, wire.BODY_TIMEOUT, "")
