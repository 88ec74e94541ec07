"""The downstream side: one asyncio.Protocol per client connection, parsing requests with httptools and
routing them (the state machine of Envoy's HTTP connection manager and router filter).

Per-connection and per-request state are fields of the protocol (HTTP/1.1 serves one request at a time on a
connection; pipelined requests wait, parsed, in a queue). The common request costs: the parser callbacks,
one dict lookup for the host, the route's match closures, a balancer pick, a pooled connection, one write of
the head upstream and byte-for-byte writes of the response back. Everything else (faults, mirrors,
rewrites, header operations, timeouts, retries) is behind a flag checked once.

This module holds the state machine: a request is parsed, dispatched, attempted upstream (again, on a
retry), answered and ended, on a connection that may be closed or reset at any point. What the state
machine calls on the way lives beside it: the request head and the view matches read (request_head.py,
request_view.py, the bases of the class), pipelining (pipelining.py), the per-route features
(route_features.py) and the recording of each ended exchange (exchange_record.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools

from . import wire
from .cluster import OVERFLOW, ClusterState, EndpointState
from .config import ATTEMPT_ENDINGS, ListenerConfig, ListenerConfigRef
from .exchange_record import record_exchange
from .outlier import LOCAL_FAILURE_STATUS
from .pipelining import PipelinedRequest, queue_pipelined, replay_pipelined
from .request_head import HeadersTooLarge, RejectedRequest, absolute_form, finish_head
from .request_view import RoutedRequestView
from .route_features import (
    cors_reply_lines,
    on_timeout,
    on_try_timeout,
    retry_request,
    send_mirrors,
    slow_route,
    write_rewritten_head,
)
from .router import CompiledRoute, HeaderOps, find_route
from .telemetry import Series
from .tracing import SpanContext
from .upstream import DISCARD, PASS, REWRITE, UpstreamConnection

if TYPE_CHECKING:
    from .runtime import ConnectionRuntime

log = logging.getLogger("mesh_runtime.proxy")

_HEAD = b"HEAD"
_HTTP = b"http://"
_HTTPS = b"https://"

# Why reading from the client is paused (a bit each; reading resumes when none is left).
_PAUSE_UPSTREAM = 1  # the upstream cannot take more request body
_PAUSE_BUFFER = 2  # request body waiting for an upstream connection
_PAUSE_PIPELINE = 4  # a pipelined request waits for the current one


class DownstreamProtocol(RoutedRequestView, asyncio.Protocol):
    # Slots, not an instance dict: some seventy attributes (with the bases'), read and written per request.
    __slots__ = (
        "runtime",
        "listener_ref",
        "transport",
        "parser",
        "peer_address",
        "scheme",
        "client_cert_line",
        "peer_identity",
        "closed",
        "read_paused",
        "write_paused",
        "queue",
        "replaying",
        "raw_backlog",
        "active",
        "request_complete",
        "listener",
        "method",
        "path",
        "authority",
        "keep_alive",
        "http10",
        "is_head",
        "route",
        "cluster",
        "endpoint",
        "upstream",
        "waiting",
        "pending",
        "replay",
        "counted",
        "replay_bytes",
        "clock",
        "span",
        "request_bytes",
        "response_bytes",
        "attempt",
        "peer_index",
        "retries_used",
        "status",
        "flags",
        "response_started",
        "response_ops",
        "rewrite_response",
        "response_chunked",
        "timer",
        "try_timer",
        "mirrors",
        "last_series",
        "last_target",
        "last_status",
        "last_flags",
    )

    def __init__(self, runtime: ConnectionRuntime, listener: ListenerConfigRef) -> None:
        super().__init__()  # the request head's fields
        # Per-connection state
        self.runtime = runtime
        self.listener_ref = listener
        self.transport: Any = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer_address = b""
        self.scheme = b"http"
        self.client_cert_line = b""
        self.peer_identity = ""
        self.closed = False
        self.read_paused = 0
        self.write_paused = False
        self.queue: deque[PipelinedRequest] | None = None
        self.replaying = False
        self.raw_backlog = b""
        # Per-request state: the exchange
        self.active = False
        self.request_complete = False
        self.listener: ListenerConfig = listener.current
        self.method = b""
        self.path = b""
        self.authority = b""
        self.keep_alive = True
        self.http10 = False
        self.is_head = False
        self.route: CompiledRoute | None = None
        self.cluster: ClusterState | None = None
        self.endpoint: EndpointState | None = None
        self.upstream: UpstreamConnection[EndpointState] | None = None
        self.waiting = False
        self.pending: list[bytes] = []
        self.replay: list[bytes] | None = []
        self.counted = False
        self.replay_bytes = 0
        self.clock = runtime.loop.time
        self.started = self.clock()
        self.span: SpanContext | None = None
        self.request_bytes = 0
        self.response_bytes = 0
        self.attempt = 0
        self.peer_index = 0
        self.retries_used = 0
        self.status = 0
        self.flags = ""
        self.response_started = False
        self.response_ops: HeaderOps | None = None
        self.rewrite_response = False
        self.response_chunked = False
        self.timer: asyncio.TimerHandle | None = None
        self.try_timer: asyncio.TimerHandle | None = None
        # Mirrors waiting for the request's body (cluster, shadow head); None unless the route mirrors one
        self.mirrors: list[tuple[ClusterState, bytes]] | None = None
        self.header_map = None
        # The Istio series of this connection's last outbound request, and what it was looked up by
        self.last_series: Series | None = None
        self.last_target: object = None
        self.last_status = 0
        self.last_flags = ""

    # -- asyncio -----------------------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(high=wire.HIGH_WATER, low=wire.LOW_WATER)
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer_address = str(peer[0]).encode()
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.scheme = b"https"
            self.runtime.identify_peer(self, ssl_object)
        runtime = self.runtime
        runtime.stats.downstream_cx_total += 1
        runtime.stats.downstream_cx_active += 1
        runtime.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed and not self.active:
            self._forget()
            return
        self.closed = True
        if self.active:
            self.runtime.stats.downstream_rq_rx_reset += 1
            self.add_flag(wire.DOWNSTREAM_CONNECTION_TERMINATION)
            self.drop_upstream(reusable=False)
            self._cancel_timers()
            record_exchange(self)
            self.active = False
        self._forget()

    def _forget(self) -> None:
        runtime = self.runtime
        if self in runtime.connections:
            runtime.connections.discard(self)
            runtime.stats.downstream_cx_active -= 1

    def pause_writing(self) -> None:
        self.write_paused = True
        upstream = self.upstream
        if upstream is not None and upstream.transport is not None:
            upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        upstream = self.upstream
        if upstream is not None and upstream.transport is not None:
            upstream.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self.active and (self.queue[-1].complete if self.queue else self.request_complete):
            # The next request, sent before this one is answered: parse it once this one is done.
            self.raw_backlog += data
            self._pause(_PAUSE_PIPELINE)
            return
        if self.in_head:
            self.head_bytes += len(data)
            if self.head_bytes > wire.MAX_HEAD_BYTES:
                self._reject(431, wire.BODY_HEADERS_TOO_LARGE)
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, wire.BODY_BAD_REQUEST)  # upgrades (WebSocket, CONNECT) are not proxied yet
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadersTooLarge):
                self._reject(431, wire.BODY_HEADERS_TOO_LARGE)
            elif isinstance(exc.__context__, Exception) and not isinstance(exc.__context__, RejectedRequest):
                self._contain(exc.__context__)
            else:
                self._reject(400, wire.BODY_BAD_REQUEST)
        except Exception as exc:  # nothing a client sends may stop the proxy
            self._contain(exc)

    def eof_received(self) -> bool:
        return False

    # -- parser callbacks --------------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self.in_head = False
        if len(self.lines) > wire.MAX_HEADER_COUNT:
            raise HeadersTooLarge()
        if self.active:
            queue_pipelined(self)
            self._pause(_PAUSE_PIPELINE)
            return
        self.dispatch()

    def on_body(self, body: bytes) -> None:
        if self.queue:
            self.queue[-1].body.append(body)
            return
        if not self.active:
            return  # the rest of a request already answered (and about to be closed)
        self.body_bytes += len(body)
        replay = self.replay
        if replay is not None:
            replay.append(body)
            self.replay_bytes += len(body)
        upstream = self.upstream
        if upstream is not None:
            upstream.transport.write(wire.chunk(body) if self.request_chunked else body)
            if replay is not None and self.replay_bytes > wire.RETRY_BUFFER_LIMIT:
                self.replay = None  # too big to resend: no retry once it has started flowing
            return
        if replay is None:
            self.pending.append(body)
            buffered = sum(map(len, self.pending))
        else:
            buffered = self.replay_bytes
        if buffered > wire.HIGH_WATER:
            self._pause(_PAUSE_BUFFER)  # until an upstream connection takes it

    def on_message_complete(self) -> None:
        if self.queue:
            self.queue[-1].complete = True
            return
        if not self.active:
            return
        self.request_complete = True
        if self.request_chunked:
            upstream = self.upstream
            if upstream is not None:
                upstream.transport.write(wire.LAST_CHUNK)
        if self.mirrors is not None:
            send_mirrors(self, self.mirrors)

    # -- dispatch ----------------------------------------------------------------------------------------

    def dispatch(self) -> None:
        parser = self.parser
        self.active = True
        self.request_complete = not self.has_body
        self.listener = listener = self.listener_ref.current
        self.method = method = parser.get_method()
        self.is_head = method == _HEAD
        self.keep_alive = keep_alive = parser.should_keep_alive() and not self.runtime.draining
        # An HTTP/1.1 request without `connection:` keeps the connection alive: no need to ask the version.
        self.http10 = (not keep_alive or self.saw_connection) and parser.get_http_version() == "1.0"
        self.status = 0
        self.flags = ""
        self.request_bytes = self.response_bytes = 0
        self.response_started = False
        self.attempt = 0
        self.peer_index = 0
        self.retries_used = 0
        self.cluster = None
        self.endpoint = None
        self.counted = False
        self.upstream = None
        self.waiting = False
        if self.pending:
            self.pending = []
        if self.has_body:
            self.replay = []
            self.replay_bytes = 0
        else:
            self.replay = None
        self.header_map = None
        url = self.url
        if url[:1] == b"/":
            self.path = url
            self.authority = self.host
        elif url.startswith(_HTTP) or url.startswith(_HTTPS):
            absolute_form(self, url)
        else:
            self.path = url  # `*` (OPTIONS) or an authority (CONNECT, refused by the parser)
            self.authority = self.host
        if listener.authorizer is not None:
            if not listener.authorizer.allowed(self):
                self.runtime.stats.rbac_denied += 1
                self.reply(403, wire.BODY_RBAC_DENIED, wire.RBAC_DENIED)
                return
            self.runtime.stats.rbac_allowed += 1
        route = listener.fixed_route
        if route is None:
            route = find_route(listener.table, self)
            if route is None:
                self.reply(404, b"", wire.NO_ROUTE_FOUND)
                return
        self.route = route
        self.cluster = route.cluster
        self.response_ops = route.response_ops
        self.rewrite_response = route.rewrites_response or self.http10
        finish_head(self, listener, route)
        if route.slow:
            slow_route(self, route)
            return
        if route.timeout is not None:
            self.timer = self.runtime.loop.call_later(route.timeout, on_timeout, self)
        self.attempt_upstream()

    # -- upstream ----------------------------------------------------------------------------------------

    def attempt_upstream(self) -> None:
        cluster = self.cluster
        if cluster is None:
            self.reply(503, b"", wire.NO_CLUSTER_FOUND)
            return
        route = self.route
        assert route is not None
        if cluster.passthrough:
            endpoint = cluster.endpoint_for(self.authority)
        else:
            key = self.hash_key(cluster) if cluster.hash_policy is not None else None
            endpoint = cluster.pick(key, self.endpoint if self.attempt else None)
        if endpoint is None:
            self.reply(503, wire.BODY_NO_HEALTHY_UPSTREAM, wire.NO_HEALTHY_UPSTREAM)
            return
        self.endpoint = endpoint
        self.attempt += 1
        endpoint.active_requests += 1
        self.counted = True
        result = cluster.obtain(endpoint, self)
        if type(result) is UpstreamConnection:
            self.upstream_ready(result)
        elif result == OVERFLOW:
            self.reply(503, wire.BODY_OVERFLOW, wire.UPSTREAM_OVERFLOW)
        else:
            self.waiting = True

    def upstream_ready(self, connection: UpstreamConnection[EndpointState]) -> None:
        """A connection for this request: send the head and whatever body has arrived."""
        cluster = connection.endpoint.cluster
        if not self.active or self.closed or connection.endpoint is not self.endpoint or self.upstream:
            cluster.release(connection, reusable=True)  # the request ended while it was being connected
            return
        self.waiting = False
        self.upstream = connection
        connection.begin(self, self.rewrite_response, self.is_head)
        lines = self.lines
        if self.peer_index:
            lines[self.peer_index] = self.listener.peer_line if connection.endpoint.in_mesh else b""
        if self.listener.count_attempts:
            lines[-1] = ATTEMPT_ENDINGS[min(self.attempt, len(ATTEMPT_ENDINGS) - 1)]
        head = b"".join(lines)
        self.request_bytes = len(head)
        chunks = self.replay if self.replay is not None else self.pending
        self.pending = []
        transport = connection.transport
        assert transport is not None
        if chunks:
            if self.request_chunked:
                chunks = [wire.chunk(piece) for piece in chunks]
                if self.request_complete:
                    chunks.append(wire.LAST_CHUNK)
            transport.writelines([head, *chunks])
        else:
            transport.write(head)
            if self.request_complete and self.request_chunked:
                transport.write(wire.LAST_CHUNK)
        if self.read_paused & _PAUSE_BUFFER:
            self._resume(_PAUSE_BUFFER)
        if self.write_paused:
            transport.pause_reading()
        if self.expect_continue and self.attempt == 1:
            self.transport.write(wire.CONTINUE_100)
        per_try_timeout = self.route.per_try_timeout if self.route is not None else None
        if per_try_timeout is not None:
            self.try_timer = self.runtime.loop.call_later(per_try_timeout, on_try_timeout, self)

    def upstream_failed(self, endpoint: EndpointState, reason: str) -> None:
        """The connection for this request could not be opened (UF)."""
        if not self.waiting or endpoint is not self.endpoint or self.upstream is not None:
            return  # about an attempt that has ended already
        self._uncount()
        self.waiting = False
        retry = self.route.retry if self.route is not None else None
        if retry is not None and retry.on_connect_failure and retry_request(self):
            return
        self.add_flag(wire.UPSTREAM_CONNECTION_FAILURE)
        body = wire.BODY_CONNECTION_FAILURE
        if reason.startswith("TLS error"):
            body += b", transport failure reason: " + reason.encode()
        self.reply(503, body, "")

    def upstream_headers(self, connection: UpstreamConnection[EndpointState], status: int) -> int:
        retry = self.route.retry if self.route is not None else None
        endpoint = connection.endpoint
        cluster = endpoint.cluster
        if cluster.outlier is not None:
            cluster.outlier.record(endpoint, status)
        if retry is not None and status in retry.statuses:
            if retry_request(self):
                return DISCARD
            if self.retries_used:
                self.add_flag(wire.UPSTREAM_RETRY_LIMIT_EXCEEDED)
        if self.try_timer is not None:
            self.try_timer.cancel()
            self.try_timer = None
        self.status = status
        self.response_started = True
        if self.rewrite_response:
            write_rewritten_head(self, connection, status)
            return REWRITE
        return PASS

    def upstream_body(self, connection: UpstreamConnection[EndpointState], data: bytes) -> None:
        self.transport.write(wire.chunk(data) if self.response_chunked else data)

    def upstream_done(self, connection: UpstreamConnection[EndpointState]) -> None:
        if connection is not self.upstream:
            return
        if self.response_chunked:
            self.transport.write(wire.LAST_CHUNK)
        keep_alive = connection.keep_alive and not self.http10
        self.response_bytes = connection.received_bytes
        self._release_upstream(reusable=connection.keep_alive and self.request_complete)
        if not self.request_complete:
            keep_alive = False  # the client is still sending a body nobody will read
        self.end_exchange(keep_alive)

    def upstream_lost(self, connection: UpstreamConnection[EndpointState], error: str) -> None:
        """The upstream connection closed (or spoke garbage) while serving this request."""
        if connection is not self.upstream:
            return
        endpoint = connection.endpoint
        self._uncount()
        self.upstream = None
        if self.response_started:
            if connection.keep_alive or error == "protocol error":
                self.add_flag(wire.UPSTREAM_CONNECTION_TERMINATION)  # framed, but cut short
            self.end_exchange(keep_alive=False)
            return
        cluster = endpoint.cluster
        stale = connection.requests > 1 and not connection.received and error != "protocol error"
        if stale and retry_request(self, count=False):
            return  # a pooled connection the server had closed: resend once on a fresh one
        if cluster.outlier is not None:
            cluster.outlier.record(endpoint, LOCAL_FAILURE_STATUS)
        retry = self.route.retry if self.route is not None else None
        if retry is not None and retry.on_reset and retry_request(self):
            return
        if error == "protocol error":
            self.add_flag(wire.UPSTREAM_PROTOCOL_ERROR)
            self.reply(502, wire.BODY_PROTOCOL_ERROR, "")
        else:
            self.add_flag(wire.UPSTREAM_CONNECTION_TERMINATION)
            self.reply(503, wire.BODY_CONNECTION_TERMINATION, "")

    def upstream_paused(self, paused: bool) -> None:
        if paused:
            self._pause(_PAUSE_UPSTREAM)
        else:
            self._resume(_PAUSE_UPSTREAM)

    # -- ending ------------------------------------------------------------------------------------------

    def reply(self, status: int, body: bytes, flag: str, extra: bytes = b"", cors: bool = True) -> None:
        """Answer locally (no route, no upstream, faults…) and end the exchange. `cors`: add the route's
        CORS response headers when the request's origin is allowed."""
        if flag:
            self.add_flag(flag)
        route = self.route
        if cors and route is not None and route.cors is not None:
            extra += cors_reply_lines(self, route.cors)
        self.drop_upstream(reusable=False)
        if self.waiting and self.endpoint is not None and self.cluster is not None:
            self.cluster.forget_waiter(self.endpoint, self)
            self.waiting = False
        self.status = status
        keep_alive = self.keep_alive and self.request_complete and not self.http10
        if self.is_head:
            body = b""
        reply = wire.local_reply(status, body, close=not keep_alive, extra=extra)
        self.response_bytes = len(reply)
        self.transport.write(reply)
        self.response_started = True
        self.end_exchange(keep_alive)

    def end_exchange(self, keep_alive: bool) -> None:
        if self.counted:
            self._uncount()
        if self.timer is not None or self.try_timer is not None:
            self._cancel_timers()
        record_exchange(self)
        self.active = False
        self.route = None
        self.upstream = None
        self.response_chunked = False
        if self.closed:
            return
        if not (keep_alive and self.keep_alive):
            self.closed = True
            self.transport.close()
            return
        if not self.replaying:
            self._continue()

    def _continue(self) -> None:
        """After an exchange: the next pipelined request, the bytes read meanwhile, or more reading."""
        if self.queue:
            self._next_pipelined()
        elif self.raw_backlog:
            backlog, self.raw_backlog = self.raw_backlog, b""
            self._resume(_PAUSE_PIPELINE)
            self.data_received(backlog)
        elif self.read_paused:
            self._resume(_PAUSE_PIPELINE | _PAUSE_BUFFER | _PAUSE_UPSTREAM)

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            if self.endpoint is not None:
                self.endpoint.active_requests -= 1

    def _release_upstream(self, reusable: bool) -> None:
        if self.counted:
            self._uncount()
        connection = self.upstream
        if connection is None:
            return
        self.upstream = None
        if self.write_paused and connection.transport is not None:
            connection.transport.resume_reading()
        connection.endpoint.cluster.release(connection, reusable)

    def drop_upstream(self, reusable: bool) -> None:
        connection = self.upstream
        if connection is not None:
            connection.owner = None
            self._release_upstream(reusable)

    def _cancel_timers(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.try_timer is not None:
            self.try_timer.cancel()
            self.try_timer = None

    def add_flag(self, flag: str) -> None:
        self.flags = f"{self.flags},{flag}" if self.flags else flag

    # -- errors ------------------------------------------------------------------------------------------

    def _reject(self, status: int, body: bytes) -> None:
        """Malformed or oversized request: answer `status` and close, as Envoy's codec does."""
        stats = self.runtime.stats
        if status == 431:
            stats.downstream_rq_header_overflow += 1
        else:
            stats.downstream_rq_protocol_error += 1
        if self.closed:
            return
        if self.active and self.response_started:
            self.drop_upstream(reusable=False)
            self.closed = True
            self.transport.close()
            return
        self.drop_upstream(reusable=False)
        self._cancel_timers()
        self.active = False
        self.closed = True
        self.status = status
        self.response_started = True
        self.flags = wire.DOWNSTREAM_PROTOCOL_ERROR
        record_exchange(self)
        self.transport.write(wire.local_reply(status, body, close=True))
        self.transport.close()

    def _contain(self, exc: BaseException) -> None:
        """A bug or an unexpected condition on this connection: count it, log it, close the connection."""
        self.runtime.stats.errors_contained += 1
        log.error(
            "error on a downstream connection from %s, closing it", self.peer_address.decode(), exc_info=exc
        )
        self.drop_upstream(reusable=False)
        self._cancel_timers()
        if not self.closed:
            self.closed = True
            if self.active and not self.response_started:
                self.transport.write(wire.local_reply(500, b"", close=True))
            self.transport.close()
        self.active = False

    # -- flow control and pipelining ---------------------------------------------------------------------

    def _pause(self, reason: int) -> None:
        if not self.read_paused and not self.closed:
            self.transport.pause_reading()
        self.read_paused |= reason

    def _resume(self, reasons: int) -> None:
        if not self.read_paused:
            return
        self.read_paused &= ~reasons
        if not self.read_paused and not self.closed:
            self.transport.resume_reading()

    def _next_pipelined(self) -> None:
        replay_pipelined(self)
        if not self.active:
            if not self.closed:
                self._continue()
            return
        if not self.queue:
            backlog, self.raw_backlog = self.raw_backlog, b""
            self._resume(_PAUSE_PIPELINE)
            if backlog:
                self.data_received(backlog)
