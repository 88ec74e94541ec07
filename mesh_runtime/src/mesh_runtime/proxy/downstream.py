"""The downstream side: one asyncio.Protocol per client connection, parsing requests with httptools and
routing them (Envoy's HTTP connection manager and router filter in one class).

Per-connection and per-request state are fields of the protocol (HTTP/1.1 serves one request at a time on a
connection; pipelined requests wait, parsed, in a queue). The common request costs: the parser callbacks,
one dict lookup for the host, the route's match closures, a balancer pick, a pooled connection, one write of
the head upstream and byte-for-byte writes of the response back. Everything else (faults, mirrors,
rewrites, header operations, timeouts, retries) is behind a flag checked once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import urllib.parse
from collections import deque
from typing import TYPE_CHECKING, Any, Literal

import httptools

from . import wire
from .accesslog import AccessLog
from .authz import principal_of
from .cluster import OVERFLOW, ClusterState, EndpointState
from .config import ATTEMPT_ENDINGS, ListenerConfig, ListenerConfigRef
from .cors import OPTIONS, ORIGIN, REQUEST_HEADERS, REQUEST_METHOD, CompiledCors
from .outlier import LOCAL_FAILURE_STATUS
from .router import DIRECT_RESPONSE, REDIRECT, CompiledRoute, HeaderOps, matched_block, rewrite_path
from .telemetry import PEER_HEADER, Series
from .tracing import TRACE_HEADERS, SpanContext, outgoing_headers, start_span, wall_clock_start
from .upstream import DISCARD, PASS, REWRITE, UpstreamConnection

if TYPE_CHECKING:
    from .runtime import ConnectionRuntime

log = logging.getLogger("mesh_runtime.proxy")

# Request headers looked at while parsing, by lower-case name. Only names of these lengths are lowered.
_HOST, _HOP, _TE, _EXPECT, _REQUEST_ID, _CONTENT_LENGTH, _TRANSFER_ENCODING, _XFP, _XFCC, _XFF = range(1, 11)
_PEER = 11
_SPECIAL = {
    b"host": _HOST,
    b"connection": _HOP,
    b"keep-alive": _HOP,
    b"proxy-connection": _HOP,
    b"upgrade": _HOP,
    b"te": _TE,
    b"expect": _EXPECT,
    b"x-request-id": _REQUEST_ID,
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"x-forwarded-proto": _XFP,
    b"x-forwarded-client-cert": _XFCC,
    b"x-forwarded-for": _XFF,
    PEER_HEADER: _PEER,
}
#: Header names as clients spell them → their kind (0: nothing special); filled as names are seen.
_KNOWN_NAMES: dict[bytes, int] = {}
_KNOWN_NAMES_LIMIT = 4096


def _classify(name: bytes) -> int:
    kind = _SPECIAL.get(name.lower(), 0)
    if len(_KNOWN_NAMES) < _KNOWN_NAMES_LIMIT:
        _KNOWN_NAMES[name] = kind
    return kind


_HEAD = b"HEAD"
_XFP_HTTP = b"x-forwarded-proto: http\r\n"
_XFP_HTTPS = b"x-forwarded-proto: https\r\n"
_SP = b" "
_HTTP = b"http://"
_HTTPS = b"https://"
_RESPONSE_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)

# Why reading from the client is paused (a bit each; reading resumes when none is left).
_PAUSE_UPSTREAM = 1  # the upstream cannot take more request body
_PAUSE_BUFFER = 2  # request body waiting for an upstream connection
_PAUSE_PIPELINE = 4  # a pipelined request waits for the current one


class _Pipelined:
    """A request parsed while the previous one is still being served (HTTP/1.1 pipelining)."""

    __slots__ = ("state", "body", "complete")

    def __init__(self, state: tuple[Any, ...]) -> None:
        self.state = state
        self.body: list[bytes] = []
        self.complete = False


class DownstreamProtocol(asyncio.Protocol):
    # Slots, not an instance dict: some seventy attributes, read and written on every request.
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
        "in_head",
        "head_bytes",
        "url",
        "lines",
        "host",
        "host_index",
        "has_request_id",
        "has_forwarded_proto",
        "forwarded_for",
        "has_body",
        "request_chunked",
        "expect_continue",
        "saw_connection",
        "peer_metadata",
        "body_bytes",
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
        "head",
        "pending",
        "replay",
        "counted",
        "replay_bytes",
        "clock",
        "started",
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
        "matched_block",
        "mirrors",
        "_header_map",
        "last_series",
        "last_target",
        "last_status",
        "last_flags",
    )

    def __init__(self, runtime: ConnectionRuntime, listener: ListenerConfigRef) -> None:
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
        self.queue: deque[_Pipelined] | None = None
        self.replaying = False
        self.raw_backlog = b""
        self.in_head = False
        self.head_bytes = 0
        # Per-request state: parsing
        self.url = b""
        self.lines: list[bytes] = []
        self.host = b""
        self.host_index = 0
        self.has_request_id = False
        self.has_forwarded_proto = False
        self.forwarded_for = -1
        self.has_body = False
        self.request_chunked = False
        self.expect_continue = False
        self.saw_connection = False
        self.peer_metadata = b""
        self.body_bytes = 0
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
        self.head = b""
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
        self.matched_block = 0
        # Mirrors waiting for the request's body (cluster, shadow head); None unless the route mirrors one
        self.mirrors: list[tuple[ClusterState, bytes]] | None = None
        self._header_map: dict[bytes, bytes] | None = None
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
            self._add_flag(wire.DOWNSTREAM_CONNECTION_TERMINATION)
            self._drop_upstream(reusable=False)
            self._cancel_timers()
            self._record()
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
            if isinstance(exc.__context__, _HeadersTooLarge):
                self._reject(431, wire.BODY_HEADERS_TOO_LARGE)
            elif isinstance(exc.__context__, Exception) and not isinstance(exc.__context__, _Rejected):
                self._contain(exc.__context__)
            else:
                self._reject(400, wire.BODY_BAD_REQUEST)
        except Exception as exc:  # nothing a client sends may stop the proxy
            self._contain(exc)

    def eof_received(self) -> bool:
        return False

    # -- parser callbacks --------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.closed:
            raise _Rejected()  # stop parsing what follows a request that closed the connection
        self.in_head = True
        self.head_bytes = 0
        self.started = self.clock()
        self.url = b""
        self.lines = [b""]
        self.host = b""
        self.host_index = 0
        self.has_request_id = False
        self.has_forwarded_proto = False
        self.forwarded_for = -1
        self.has_body = False
        self.request_chunked = False
        self.expect_continue = False
        self.saw_connection = False
        self.peer_metadata = b""
        self.body_bytes = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        kind = _KNOWN_NAMES.get(name)
        if kind is None:
            kind = _classify(name)
        if kind and self._special_header(kind, name, value):
            return
        self.lines.append(name + wire.HEADER_SEPARATOR + value + wire.CRLF)

    def _special_header(self, kind: int, name: bytes, value: bytes) -> bool:
        """Note a header the proxy acts on; True when it is not forwarded (hop-by-hop, or replaced)."""
        if kind == _HOST:
            if not self.host:
                self.host = value
                self.host_index = len(self.lines)
            return False
        if kind == _HOP:
            self.saw_connection = True
            return True
        if kind == _TE:
            return value.strip().lower() != b"trailers"
        if kind == _EXPECT:
            self.expect_continue = value.strip().lower() == b"100-continue"
            return self.expect_continue
        if kind == _REQUEST_ID:
            self.has_request_id = True
        elif kind == _CONTENT_LENGTH:
            self.has_body = value.strip() not in (b"0", b"")
        elif kind == _TRANSFER_ENCODING:
            self.has_body = self.request_chunked = True
        elif kind == _XFP:
            self.has_forwarded_proto = True
        elif kind == _XFCC:
            return bool(self.client_cert_line) or self.listener_ref.current.kind == "inbound"
        elif kind == _XFF:
            self.forwarded_for = len(self.lines)
        elif kind == _PEER:
            self.peer_metadata = value  # read by the receiving sidecar, never seen by an app
            return True
        return False

    def on_headers_complete(self) -> None:
        self.in_head = False
        if len(self.lines) > wire.MAX_HEADER_COUNT:
            raise _HeadersTooLarge()
        if self.active:
            self._queue_pipelined()
            return
        self._dispatch()

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
            self._send_mirrors(self.mirrors)

    # -- the request view used by route matches -----------------------------------------------------------

    @property
    def port(self) -> int:
        if self.listener.kind == "outbound":
            host = self.authority
            if b":" in host and not host.endswith(b"]"):
                try:
                    return int(host.rsplit(b":", 1)[1])
                except ValueError:
                    return 0
            return 80
        return self.listener.port

    def path_only(self) -> bytes:
        path = self.path
        index = path.find(b"?")
        return path if index < 0 else path[:index]

    def header(self, name: bytes) -> bytes | None:
        headers = self._header_map
        if headers is None:
            headers = {}
            for line in self.lines[1:]:
                key, _, value = line.partition(b":")
                key = key.strip().lower()
                value = value.strip()
                headers[key] = headers[key] + b"," + value if key in headers else value
            self._header_map = headers
        return headers.get(name)

    # -- the request view used by authorization policies --------------------------------------------------

    @property
    def source_principal(self) -> str:
        return principal_of(self.peer_identity)

    @property
    def source_ip(self) -> str:
        return self.peer_address.decode("latin-1")

    @property
    def request_method(self) -> str:
        return self.method.decode("latin-1")

    @property
    def request_path(self) -> str:
        return self.path_only().decode("latin-1")

    @property
    def request_host(self) -> str:
        return self.authority.decode("latin-1")

    @property
    def destination_port(self) -> int:
        return self.listener.authz_port

    def request_header(self, name: str) -> str | None:
        value = self.header(name.encode("latin-1"))
        return value.decode("latin-1") if value is not None else None

    def query_param(self, name: str) -> str | None:
        path = self.path
        index = path.find(b"?")
        if index < 0:
            return None
        for key, value in urllib.parse.parse_qsl(path[index + 1 :].decode("latin-1"), keep_blank_values=True):
            if key == name:
                return value
        return None

    # -- dispatch ----------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
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
        self._header_map = None
        url = self.url
        if url[:1] == b"/":
            self.path = url
            self.authority = self.host
        elif url.startswith(_HTTP) or url.startswith(_HTTPS):
            self._absolute_form(url)
        else:
            self.path = url  # `*` (OPTIONS) or an authority (CONNECT, refused by the parser)
            self.authority = self.host
        if listener.authorizer is not None:
            if not listener.authorizer.allowed(self):
                self.runtime.stats.rbac_denied += 1
                self._reply(403, wire.BODY_RBAC_DENIED, wire.RBAC_DENIED)
                return
            self.runtime.stats.rbac_allowed += 1
        route = listener.fixed_route
        if route is None:
            route = self._find_route(listener)
            if route is None:
                self._reply(404, b"", wire.NO_ROUTE_FOUND)
                return
        self.route = route
        self.cluster = route.cluster
        self.response_ops = route.response_ops
        self.rewrite_response = route.rewrites_response or self.http10
        self._finish_head(listener, route)
        if route.slow:
            self._slow_route(route)
            return
        if route.timeout is not None:
            self.timer = self.runtime.loop.call_later(route.timeout, self._on_timeout)
        self._attempt_upstream()

    def _absolute_form(self, url: bytes) -> None:
        rest = url[url.index(b"//") + 2 :]
        slash = rest.find(b"/")
        query = rest.find(b"?")
        cut = slash if slash >= 0 and (query < 0 or slash < query) else query
        if cut < 0:
            self.authority, self.path = rest, b"/"
        else:
            self.authority = rest[:cut]
            self.path = rest[cut:] if rest[cut : cut + 1] == b"/" else b"/" + rest[cut:]
        host_line = b"host: " + self.authority + wire.CRLF
        if self.host_index:
            self.lines[self.host_index] = host_line
        else:
            self.host_index = len(self.lines)
            self.lines.append(host_line)

    def _find_route(self, listener: ListenerConfig) -> CompiledRoute | None:
        assert listener.table is not None
        vhost = listener.table.lookup(self.authority.lower())
        if vhost is None:
            return None
        for route in vhost.routes:
            match = route.match
            if match is None or match(self):
                return route
        return None

    def _finish_head(self, listener: ListenerConfig, route: CompiledRoute) -> None:
        """The request line and the headers the proxy adds; the attempt count goes last, per try."""
        lines = self.lines
        lines[0] = self.method + _SP + self.path + wire.HTTP11
        if not self.has_request_id:
            lines.append(self.runtime.request_ids.header())
        if not self.has_forwarded_proto:
            lines.append(_XFP_HTTPS if self.scheme == b"https" else _XFP_HTTP)
        if self.client_cert_line:
            lines.append(self.client_cert_line)
        if listener.append_forwarded_for:
            self._append_forwarded_for()
        if self.runtime.tracer.collector is not None:
            self._start_span()
        if route.extra_headers:
            lines.append(route.extra_headers)
        if listener.peer_line:
            # The caller's metadata goes to mesh peers only; upstream_ready blanks it for anyone else.
            self.peer_index = len(lines)
            lines.append(listener.peer_line)
        lines.append(wire.CRLF)

    def _start_span(self) -> None:
        """Tracing on: this hop's span, and the trace headers rewritten for the next hop."""
        self._header_map = None
        span = self.span = start_span(self.header, self.runtime.tracer.sampling)
        lines = self.lines
        for index in range(1, len(lines)):
            if lines[index].split(b":", 1)[0].strip().lower() in TRACE_HEADERS:
                lines[index] = b""  # emptied, not removed: other fields hold indexes into the lines
        lines.append(outgoing_headers(span))

    def _finish_span(self, span: SpanContext, status: int) -> None:
        self.span = None
        if not span.sampled:
            return
        now = self.runtime.loop.time()
        endpoint = self.endpoint
        tags = (
            self.method.decode("latin-1"),
            self.authority.decode("latin-1"),
            self.path.decode("latin-1"),
            str(status),
            self.flags,
            self.cluster.name if self.cluster is not None else "",
            (self.header(b"x-request-id") or b"").decode("latin-1"),
            f"{endpoint.address}:{endpoint.port}" if endpoint is not None else "",
        )
        kind: Literal["CLIENT", "SERVER"] = "SERVER" if self.listener.kind == "inbound" else "CLIENT"
        self.runtime.tracer.finish(span, kind, wall_clock_start(now, self.started), now - self.started, tags)

    def _append_forwarded_for(self) -> None:
        index = self.forwarded_for
        if index > 0:
            line = self.lines[index]
            self.lines[index] = line[:-2] + b", " + self.peer_address + wire.CRLF
        else:
            self.lines.append(b"x-forwarded-for: " + self.peer_address + wire.CRLF)

    # -- the slow path: CORS, faults, direct responses, redirects, rewrites, mirrors ----------------------

    def _slow_route(self, route: CompiledRoute) -> None:
        cors = route.cors
        if cors is not None and self._cors(cors):
            return
        if route.action == DIRECT_RESPONSE:
            assert route.direct_response is not None
            self._reply(route.direct_response.status, route.direct_response.body.encode(), "")
            return
        if route.action == REDIRECT:
            self._redirect(route)
            return
        if route.targets:
            target = route.pick_target()
            self.cluster = target.cluster
            if target.request_ops is not None:
                self._apply_request_ops(target.request_ops)
            if target.response_ops is not None:
                self.response_ops = _merge_ops(self.response_ops, target.response_ops)
                self.rewrite_response = True
        if route.rewrite is not None:
            self._rewrite(route)
        if route.request_ops is not None:
            self._apply_request_ops(route.request_ops)
        abort = route.fault_abort
        if abort is not None and random.random() * 100 < abort.percentage:
            self._add_flag(wire.FAULT_INJECTED)
            # Envoy's fault filter answers before the CORS filter has seen the request.
            self._reply(abort.http_status, wire.BODY_FAULT_ABORT, "", cors=False)
            return
        if route.mirrors:
            self._mirror(route)
        if route.timeout is not None:
            self.timer = self.runtime.loop.call_later(route.timeout, self._on_timeout)
        delay = route.fault_delay
        if delay is not None and random.random() * 100 < delay.percentage:
            self._add_flag(wire.DELAY_INJECTED)
            self.waiting = True
            self.try_timer = self.runtime.loop.call_later(delay.delay, self._after_delay)
            return
        self._attempt_upstream()

    def _cors(self, cors: CompiledCors) -> bool:
        """Envoy's CORS filter on a request: True when it answered a preflight itself. From an allowed
        origin, any other request's response will carry the policy's headers."""
        origin = self.header(ORIGIN)
        if not origin:
            return False
        allowed = cors.origin_allowed(origin)
        if self.method == OPTIONS:
            method = self.header(REQUEST_METHOD)
            if method:
                if not cors.answers_preflight(allowed):
                    return False  # forwarded as it came; the response is left alone
                lines = cors.preflight_headers(
                    origin if allowed else None, method, self.header(REQUEST_HEADERS) or b""
                )
                self._reply(200, b"", "", extra=lines, cors=False)
                return True
        if allowed:
            added = HeaderOps(cors.response_drop, cors.response_lines(origin))
            self.response_ops = _merge_ops(self.response_ops, added)
            self.rewrite_response = True
        return False

    def _cors_reply_lines(self, cors: CompiledCors) -> bytes:
        """A local reply (direct response, redirect, error) to a request from an allowed origin."""
        origin = self.header(ORIGIN)
        if not origin or not cors.origin_allowed(origin):
            return b""  # (an allowed preflight never gets here: it was answered by _cors)
        return cors.response_lines(origin)

    def _after_delay(self) -> None:
        self.try_timer = None
        self.waiting = False
        if self.active and not self.closed:
            self._attempt_upstream()

    def _redirect(self, route: CompiledRoute) -> None:
        redirect = route.redirect
        assert redirect is not None
        scheme = redirect.scheme.encode() if redirect.scheme else self.scheme
        authority = redirect.authority.encode() if redirect.authority else self.authority
        if redirect.port is not None:
            authority = authority.rsplit(b":", 1)[0] if b":" in authority else authority
            authority += b":%d" % redirect.port
        path = redirect.uri.encode() if redirect.uri else self.path
        location = b"location: " + scheme + b"://" + authority + path + wire.CRLF
        self._reply(redirect.response_code, b"", "", extra=location)

    def _rewrite(self, route: CompiledRoute) -> None:
        rewrite = route.rewrite
        assert rewrite is not None
        if rewrite.prefix is not None or rewrite.regex is not None:
            block = matched_block(route, self)
            self.path = rewrite_path(rewrite, self.path, self.path_only(), block)
            self.lines[0] = self.method + _SP + self.path + wire.HTTP11
        if rewrite.authority is not None:
            self.authority = rewrite.authority
            line = b"host: " + rewrite.authority + wire.CRLF
            if self.host_index:
                self.lines[self.host_index] = line
            else:
                self.lines.insert(len(self.lines) - 1, line)

    def _apply_request_ops(self, ops: HeaderOps) -> None:
        end = self.lines.pop()
        self.lines = ops.apply(self.lines, 1)
        self.lines.append(end)
        self.host_index = next(
            (i for i, line in enumerate(self.lines) if i and line[:5].lower() == b"host:"), 0
        )
        self._header_map = None

    def _mirror(self, route: CompiledRoute) -> None:
        """Pick the route's mirrors (each by its percentage): sent now without a body, else once the body
        is complete (on_message_complete)."""
        from .mirror import send_mirror, shadow_head

        head = b""
        waiting: list[tuple[ClusterState, bytes]] = []
        for cluster, percentage in route.mirrors:
            if percentage >= 100 or random.random() * 100 < percentage:
                head = head or shadow_head(self.lines, self.authority)
                if self.has_body:
                    waiting.append((cluster, head))
                else:
                    send_mirror(self.runtime, cluster, head, self.is_head)
        self.mirrors = waiting or None

    def _send_mirrors(self, mirrors: list[tuple[ClusterState, bytes]]) -> None:
        """The body is complete: mirror it with the copy kept for retries, or abandon the mirrors when it
        was too big to keep (Envoy's retry_or_shadow_abandoned)."""
        from .mirror import mirror_body, send_mirror

        self.mirrors = None
        replay = self.replay
        if replay is None or self.replay_bytes > wire.RETRY_BUFFER_LIMIT:
            if self.cluster is not None:
                self.cluster.stats.retry_or_shadow_abandoned += 1
            return
        body = mirror_body(replay, self.request_chunked)
        for cluster, head in mirrors:
            send_mirror(self.runtime, cluster, head, self.is_head, body)

    # -- upstream ----------------------------------------------------------------------------------------

    def _attempt_upstream(self) -> None:
        cluster = self.cluster
        if cluster is None:
            self._reply(503, b"", wire.NO_CLUSTER_FOUND)
            return
        route = self.route
        assert route is not None
        if cluster.passthrough:
            endpoint = cluster.endpoint_for(self.authority)
        else:
            key = self._hash_key(cluster) if cluster.hash_policy is not None else None
            endpoint = cluster.pick(key, self.endpoint if self.attempt else None)
        if endpoint is None:
            self._reply(503, wire.BODY_NO_HEALTHY_UPSTREAM, wire.NO_HEALTHY_UPSTREAM)
            return
        self.endpoint = endpoint
        self.attempt += 1
        endpoint.active_requests += 1
        self.counted = True
        result = cluster.obtain(endpoint, self)
        if type(result) is UpstreamConnection:
            self.upstream_ready(result)
        elif result == OVERFLOW:
            self._reply(503, wire.BODY_OVERFLOW, wire.UPSTREAM_OVERFLOW)
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
            self.try_timer = self.runtime.loop.call_later(per_try_timeout, self._on_try_timeout)

    def upstream_failed(self, endpoint: EndpointState, reason: str) -> None:
        """The connection for this request could not be opened (UF)."""
        if not self.waiting or endpoint is not self.endpoint or self.upstream is not None:
            return  # about an attempt that has ended already
        self._uncount()
        self.waiting = False
        retry = self.route.retry if self.route is not None else None
        if retry is not None and retry.on_connect_failure and self._retry():
            return
        self._add_flag(wire.UPSTREAM_CONNECTION_FAILURE)
        body = wire.BODY_CONNECTION_FAILURE
        if reason.startswith("TLS error"):
            body += b", transport failure reason: " + reason.encode()
        self._reply(503, body, "")

    def upstream_headers(self, connection: UpstreamConnection[EndpointState], status: int) -> int:
        retry = self.route.retry if self.route is not None else None
        endpoint = connection.endpoint
        cluster = endpoint.cluster
        if cluster.outlier is not None:
            cluster.outlier.record(endpoint, status)
        if retry is not None and status in retry.statuses:
            if self._retry():
                return DISCARD
            if self.retries_used:
                self._add_flag(wire.UPSTREAM_RETRY_LIMIT_EXCEEDED)
        if self.try_timer is not None:
            self.try_timer.cancel()
            self.try_timer = None
        self.status = status
        self.response_started = True
        if self.rewrite_response:
            self._write_rewritten_head(connection, status)
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
        self._end_exchange(keep_alive)

    def upstream_lost(self, connection: UpstreamConnection[EndpointState], error: str) -> None:
        """The upstream connection closed (or spoke garbage) while serving this request."""
        if connection is not self.upstream:
            return
        endpoint = connection.endpoint
        self._uncount()
        self.upstream = None
        if self.response_started:
            if connection.keep_alive or error == "protocol error":
                self._add_flag(wire.UPSTREAM_CONNECTION_TERMINATION)  # framed, but cut short
            self._end_exchange(keep_alive=False)
            return
        cluster = endpoint.cluster
        stale = connection.requests > 1 and not connection.received and error != "protocol error"
        if stale and self._retry(count=False):
            return  # a pooled connection the server had closed: resend once on a fresh one
        if cluster.outlier is not None:
            cluster.outlier.record(endpoint, LOCAL_FAILURE_STATUS)
        retry = self.route.retry if self.route is not None else None
        if retry is not None and retry.on_reset and self._retry():
            return
        if error == "protocol error":
            self._add_flag(wire.UPSTREAM_PROTOCOL_ERROR)
            self._reply(502, wire.BODY_PROTOCOL_ERROR, "")
        else:
            self._add_flag(wire.UPSTREAM_CONNECTION_TERMINATION)
            self._reply(503, wire.BODY_CONNECTION_TERMINATION, "")

    def upstream_paused(self, paused: bool) -> None:
        if paused:
            self._pause(_PAUSE_UPSTREAM)
        else:
            self._resume(_PAUSE_UPSTREAM)

    def _write_rewritten_head(self, connection: UpstreamConnection[EndpointState], status: int) -> None:
        lines = [wire.status_line(status)]
        chunked = False
        for line in connection.lines:
            name = line.split(b":", 1)[0].strip().lower()
            if name in _RESPONSE_HOP:
                if name == b"transfer-encoding":
                    chunked = True
                continue
            lines.append(line)
        if self.response_ops is not None:
            lines = self.response_ops.apply(lines, 1)
        if chunked and not self.http10:
            lines.append(b"transfer-encoding: chunked\r\n")
        self.response_chunked = chunked and not self.http10
        if self.http10 or not self.keep_alive or not connection.keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(wire.CRLF)
        self.transport.write(b"".join(lines))

    def _hash_key(self, cluster: ClusterState) -> bytes | None:
        policy = cluster.hash_policy
        assert policy is not None
        if policy.hash_header:
            return self.header(policy.hash_header.lower().encode())
        if policy.hash_cookie:
            cookies = self.header(b"cookie")
            if cookies:
                wanted = policy.hash_cookie.encode() + b"="
                for part in cookies.split(b";"):
                    part = part.strip()
                    if part.startswith(wanted):
                        return part[len(wanted) :]
            return None
        if policy.hash_source_ip:
            return self.peer_address
        if policy.hash_query_parameter:
            value = self.query_param(policy.hash_query_parameter)
            return value.encode() if value is not None else None
        return None

    # -- retries and timeouts ----------------------------------------------------------------------------

    def _retry(self, count: bool = True) -> bool:
        """Try again on another connection (and endpoint, when there is one); False when not allowed."""
        route = self.route
        cluster = self.cluster
        if route is None or cluster is None or (self.has_body and self.replay is None) or self.closed:
            return False
        retry = route.retry
        if count:
            if retry is None or self.retries_used >= retry.retries:
                return False
            if cluster.active_retries >= cluster.max_retries:
                cluster.stats.upstream_rq_retry_overflow += 1
                return False
            self.retries_used += 1
            cluster.stats.upstream_rq_retry += 1
        self._drop_upstream(reusable=False)
        if self.try_timer is not None:
            self.try_timer.cancel()
        if not count or retry is None:
            self.try_timer = None
            self._attempt_upstream()
            return True
        # Envoy's fully jittered exponential back-off (base: the route's `backoff`, else 25 ms).
        delay = random.random() * min(retry.backoff_base * (2**self.retries_used - 1), retry.backoff_max)
        cluster.active_retries += 1
        self.waiting = True
        self.try_timer = self.runtime.loop.call_later(delay, self._retry_now, cluster)
        return True

    def _retry_now(self, cluster: ClusterState) -> None:
        cluster.active_retries -= 1
        self.try_timer = None
        self.waiting = False
        if self.active and not self.closed:
            self._attempt_upstream()

    def _on_try_timeout(self) -> None:
        self.try_timer = None
        if not self.active or self.response_started:
            return
        if self.cluster is not None:
            self.cluster.stats.upstream_rq_per_try_timeout += 1
        endpoint = self.endpoint
        if endpoint is not None and self.cluster is not None and self.cluster.outlier is not None:
            self.cluster.outlier.record(endpoint, LOCAL_FAILURE_STATUS)
        retry = self.route.retry if self.route is not None else None
        if retry is not None and retry.on_per_try_timeout and self._retry():
            return
        self._timeout_reply()

    def _on_timeout(self) -> None:
        self.timer = None
        if not self.active:
            return
        if self.response_started:
            self._drop_upstream(reusable=False)
            self._end_exchange(keep_alive=False)
            return
        self._timeout_reply()

    def _timeout_reply(self) -> None:
        if self.cluster is not None:
            self.cluster.stats.upstream_rq_timeout += 1
        self._drop_upstream(reusable=False)
        self._add_flag(wire.UPSTREAM_REQUEST_TIMEOUT)
        self._reply(504, wire.BODY_TIMEOUT, "")

    # -- ending ------------------------------------------------------------------------------------------

    def _reply(self, status: int, body: bytes, flag: str, extra: bytes = b"", cors: bool = True) -> None:
        """Answer locally (no route, no upstream, faults…) and end the exchange. `cors`: add the route's
        CORS response headers when the request's origin is allowed."""
        if flag:
            self._add_flag(flag)
        route = self.route
        if cors and route is not None and route.cors is not None:
            extra += self._cors_reply_lines(route.cors)
        self._drop_upstream(reusable=False)
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
        self._end_exchange(keep_alive)

    def _end_exchange(self, keep_alive: bool) -> None:
        if self.counted:
            self._uncount()
        if self.timer is not None or self.try_timer is not None:
            self._cancel_timers()
        self._record()
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

    def _record(self) -> None:
        runtime = self.runtime
        stats = runtime.stats
        status = self.status if self.response_started else 0
        code = status if 0 <= status < 600 else 0
        stats.downstream_rq_by_code[code] += 1
        cluster = self.cluster
        endpoint = self.endpoint
        if cluster is not None and endpoint is not None:
            cluster.stats.upstream_rq_by_code[code] += 1
            endpoint.rq_total += 1
        if self.flags:
            stats.count_flags(self.flags)
        if runtime.metrics_enabled:
            self._record_istio_metrics(status)
        if self.span is not None:
            self._finish_span(self.span, status)
        access_log = runtime.access_log
        if access_log is not None and access_log.enabled:
            self._log_access(access_log, status)

    def _log_access(self, access_log: AccessLog, status: int) -> None:
        now = self.runtime.loop.time()
        endpoint = self.endpoint
        access_log.write(
            wall_clock_start(now, self.started),
            now - self.started,
            self.method,
            self.path,
            "HTTP/1.0" if self.http10 else "HTTP/1.1",
            status,
            self.flags,
            (self.request_bytes or len(self.url) + 16) + self.body_bytes,
            self.response_bytes,
            f"{endpoint.address}:{endpoint.port}" if endpoint is not None else "",
            self.cluster.name if self.cluster is not None else "",
            self.header(b"x-request-id"),
            self.authority,
            self.header(b"user-agent"),
            self.peer_address,
        )

    def _record_istio_metrics(self, status: int) -> None:
        duration_ms = (self.clock() - self.started) * 1000.0
        request_bytes = (self.request_bytes or len(self.url) + 16) + self.body_bytes
        flags = self.flags
        if self.listener.kind == "inbound":
            series = self._inbound_series(status, flags)
        else:
            # A connection's requests mostly share their series: the last one is kept, no key is built.
            last = self.last_series
            target = self.endpoint or self.cluster
            if (
                last is not None
                and target is self.last_target
                and status == self.last_status
                and flags == self.last_flags
            ):
                series = last
            else:
                series = self._outbound_series(target, status, flags)
        series.add(duration_ms, request_bytes, self.response_bytes)

    def _inbound_series(self, status: int, flags: str) -> Series:
        peer = self.peer_metadata
        identity = self.peer_identity
        key = (peer, identity, status, flags)
        return self.runtime.metrics.inbound(key, peer, identity, bool(identity), status, flags)

    def _outbound_series(self, target: object, status: int, flags: str) -> Series:
        metrics = self.runtime.metrics
        key = (target, status, flags)
        series = metrics.series.get(key) or metrics.outbound(key, self.endpoint, self.cluster, status, flags)
        self.last_series = series
        self.last_target = target
        self.last_status = status
        self.last_flags = flags
        return series

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

    def _drop_upstream(self, reusable: bool) -> None:
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

    def _add_flag(self, flag: str) -> None:
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
            self._drop_upstream(reusable=False)
            self.closed = True
            self.transport.close()
            return
        self._drop_upstream(reusable=False)
        self._cancel_timers()
        self.active = False
        self.closed = True
        self.status = status
        self.response_started = True
        self.flags = wire.DOWNSTREAM_PROTOCOL_ERROR
        self._record()
        self.transport.write(wire.local_reply(status, body, close=True))
        self.transport.close()

    def _contain(self, exc: BaseException) -> None:
        """A bug or an unexpected condition on this connection: count it, log it, close the connection."""
        self.runtime.stats.errors_contained += 1
        log.error(
            "error on a downstream connection from %s, closing it", self.peer_address.decode(), exc_info=exc
        )
        self._drop_upstream(reusable=False)
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

    def _queue_pipelined(self) -> None:
        parser = self.parser
        state = (
            self.url,
            self.lines,
            self.host,
            self.host_index,
            self.has_request_id,
            self.has_forwarded_proto,
            self.forwarded_for,
            self.has_body,
            self.request_chunked,
            self.expect_continue,
            parser.get_method(),
            parser.should_keep_alive(),
            parser.get_http_version(),
        )
        if self.queue is None:
            self.queue = deque()
        self.queue.append(_Pipelined(state))
        self._pause(_PAUSE_PIPELINE)

    def _next_pipelined(self) -> None:
        assert self.queue
        request = self.queue.popleft()
        (
            self.url,
            self.lines,
            self.host,
            self.host_index,
            self.has_request_id,
            self.has_forwarded_proto,
            self.forwarded_for,
            self.has_body,
            self.request_chunked,
            self.expect_continue,
            method,
            keep_alive,
            version,
        ) = request.state
        # While its parsed body is replayed this request is the current one: the body callbacks must not
        # take the queue's last entry for it, and an exchange that ends meanwhile starts nothing.
        queue, self.queue = self.queue, None
        self.replaying = True
        try:
            self._dispatch_parsed(method, keep_alive, version)
            for piece in request.body:
                self.on_body(piece)
            if request.complete:
                self.on_message_complete()
        finally:
            self.replaying = False
            self.queue = queue
        if not self.active:
            if not self.closed:
                self._continue()
            return
        if not self.queue:
            backlog, self.raw_backlog = self.raw_backlog, b""
            self._resume(_PAUSE_PIPELINE)
            if backlog:
                self.data_received(backlog)

    def _dispatch_parsed(self, method: bytes, keep_alive: bool, version: str) -> None:
        """Dispatch a queued request with the parser facts recorded when it was parsed."""
        saved = self.parser
        self.parser = _ParsedFacts(method, keep_alive, version)  # type: ignore[assignment]
        try:
            self._dispatch()
        finally:
            self.parser = saved


class _ParsedFacts:
    """Stands in for the parser when a queued request is dispatched later."""

    __slots__ = ("_method", "_keep_alive", "_version")

    def __init__(self, method: bytes, keep_alive: bool, version: str) -> None:
        self._method = method
        self._keep_alive = keep_alive
        self._version = version

    def get_method(self) -> bytes:
        return self._method

    def should_keep_alive(self) -> bool:
        return self._keep_alive

    def get_http_version(self) -> str:
        return self._version


class _Rejected(Exception):
    pass


class _HeadersTooLarge(_Rejected):
    pass


def _merge_ops(first: HeaderOps | None, second: HeaderOps) -> HeaderOps:
    if first is None:
        return second
    return HeaderOps(first.drop | second.drop, first.lines + second.lines)
