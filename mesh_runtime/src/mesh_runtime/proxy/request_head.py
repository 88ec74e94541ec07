"""The request head: parsing it (the parser's head callbacks, and the few header names the proxy acts on),
and building the head that is forwarded upstream.

Classification is a table and one function over it: `on_header` looks a name up in `KNOWN_NAMES` (names as
clients spell them, filled as they are seen) and, for the few names that matter, `note_special_header`
records the fact and says whether the line is forwarded. Every other header line goes upstream as it came,
without being lowered or looked at again. `RequestHead` holds what is parsed of a head and is a base of the
downstream connection, whose state machine takes over once the head is complete; `finish_head` then adds
the lines the proxy sets. None of this decides what happens to the request, so it lives apart from the
state machine (as a codec apart from the connection manager).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from . import wire
from .telemetry import PEER_HEADER
from .tracing import TRACE_HEADERS, new_trace, outgoing_headers, start_span

if TYPE_CHECKING:
    from .config import ListenerConfig, ListenerConfigRef
    from .router import CompiledRoute
    from .runtime import ConnectionRuntime
    from .tracing import SpanContext

# The kinds of header the proxy acts on (0: none).
(
    HOST,
    HOP_BY_HOP,
    TE,
    EXPECT,
    REQUEST_ID,
    CONTENT_LENGTH,
    TRANSFER_ENCODING,
    FORWARDED_PROTO,
    FORWARDED_CLIENT_CERT,
    FORWARDED_FOR,
    PEER_METADATA,
    TRACE,
) = range(1, 13)

#: Lower-case header name → its kind.
SPECIAL: dict[bytes, int] = {
    b"host": HOST,
    b"connection": HOP_BY_HOP,
    b"keep-alive": HOP_BY_HOP,
    b"proxy-connection": HOP_BY_HOP,
    b"upgrade": HOP_BY_HOP,
    b"te": TE,
    b"expect": EXPECT,
    b"x-request-id": REQUEST_ID,
    b"content-length": CONTENT_LENGTH,
    b"transfer-encoding": TRANSFER_ENCODING,
    b"x-forwarded-proto": FORWARDED_PROTO,
    b"x-forwarded-client-cert": FORWARDED_CLIENT_CERT,
    b"x-forwarded-for": FORWARDED_FOR,
    PEER_HEADER: PEER_METADATA,
    **dict.fromkeys(TRACE_HEADERS, TRACE),
}
#: Header names as clients spell them → their kind (0: nothing special); filled as names are seen.
KNOWN_NAMES: dict[bytes, int] = {}
KNOWN_NAMES_LIMIT = 4096


class HeadBeingParsed(Protocol):
    """The request whose head is being parsed (the downstream connection): what the special headers set."""

    lines: list[bytes]
    host: bytes
    host_index: int
    has_request_id: bool
    has_forwarded_proto: bool
    forwarded_for: int
    has_body: bool
    request_chunked: bool
    expect_continue: bool
    saw_connection: bool
    peer_metadata: bytes
    trace_headers: TraceHeaders | None
    request_id: bytes
    client_cert_line: bytes
    listener_ref: ListenerConfigRef
    runtime: ConnectionRuntime


def classify(name: bytes) -> int:
    """The kind of a header name not seen yet in this spelling (remembered, up to KNOWN_NAMES_LIMIT)."""
    kind = SPECIAL.get(name.lower(), 0)
    if len(KNOWN_NAMES) < KNOWN_NAMES_LIMIT:
        KNOWN_NAMES[name] = kind
    return kind


def note_special_header(request: HeadBeingParsed, kind: int, name: bytes, value: bytes) -> bool:
    """Note a header the proxy acts on; True when it is not forwarded (hop-by-hop, or replaced)."""
    if kind == HOST:
        if not request.host:
            request.host = value
            request.host_index = len(request.lines)
        return False
    if kind == HOP_BY_HOP:
        request.saw_connection = True
        return True
    if kind == TE:
        return value.strip().lower() != b"trailers"
    if kind == EXPECT:
        request.expect_continue = value.strip().lower() == b"100-continue"
        return request.expect_continue
    if kind == REQUEST_ID:
        request.has_request_id = True
        request.request_id = value.strip()
    elif kind == CONTENT_LENGTH:
        request.has_body = value.strip() not in (b"0", b"")
    elif kind == TRANSFER_ENCODING:
        request.has_body = request.request_chunked = True
    elif kind == FORWARDED_PROTO:
        request.has_forwarded_proto = True
    elif kind == FORWARDED_CLIENT_CERT:
        return bool(request.client_cert_line) or request.listener_ref.current.kind == "inbound"
    elif kind == FORWARDED_FOR:
        request.forwarded_for = len(request.lines)
    elif kind == PEER_METADATA:
        request.peer_metadata = value  # read by the receiving sidecar, never seen by an app
        return True
    elif kind == TRACE and request.runtime.tracer.collector is not None:  # noted only when tracing is on
        note_trace_header(request, name.lower(), value.strip())
    return False


class TraceHeaders:
    """The trace headers of a request, noted as they are parsed (only for a request that has one), so that
    tracing reads the incoming context and rewrites them without going over every header again."""

    __slots__ = ("values", "lines")

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        #: The indexes of their lines in the head.
        self.lines: list[int] = []


def note_trace_header(request: HeadBeingParsed, name: bytes, value: bytes) -> None:
    seen = request.trace_headers
    if seen is None:
        seen = request.trace_headers = TraceHeaders()
    earlier = seen.values.get(name)
    seen.values[name] = value if earlier is None else earlier + b"," + value
    seen.lines.append(len(request.lines))


class RejectedRequest(Exception):
    """Raised in a parser callback to stop parsing (the parser reports it as a parse error)."""


class HeadersTooLarge(RejectedRequest):
    pass


#: The fields that hold a parsed head for forwarding: what a pipelined request keeps while it waits
#: (pipelining.py), restored when it is replayed.
HEAD_FIELDS = (
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
    "trace_headers",
    "request_id",
)


class RequestHead:
    """What is parsed of the current request's head, and the parser callbacks that fill it in."""

    __slots__ = (
        "in_head",
        "head_bytes",
        *HEAD_FIELDS,
        "saw_connection",
        "peer_metadata",
        "body_bytes",
        "started",
    )

    #: The head's lines as forwarded: [request line, header lines…]; emptied lines stay (indexes).
    lines: list[bytes]

    # Set by the connection (the subclass).
    closed: bool
    clock: Callable[[], float]
    client_cert_line: bytes
    listener_ref: ListenerConfigRef
    runtime: ConnectionRuntime

    def __init__(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        #: When the request began (its first byte parsed), on the connection's clock.
        self.started = 0.0
        self.clear_head()
        self.lines = []  # no request yet

    def clear_head(self) -> None:
        """Forget the previous request's head: what a new one starts from."""
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
        self.trace_headers: TraceHeaders | None = None
        #: The x-request-id value the client sent, or the line the proxy added (finish_head): see
        #: request_id_value.
        self.request_id = b""
        self.body_bytes = 0

    def on_message_begin(self) -> None:
        if self.closed:
            raise RejectedRequest()  # stop parsing what follows a request that closed the connection
        self.in_head = True
        self.head_bytes = 0
        self.started = self.clock()
        self.clear_head()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        kind = KNOWN_NAMES.get(name)
        if kind is None:
            kind = classify(name)
        if kind and note_special_header(self, kind, name, value):
            return
        self.lines.append(name + wire.HEADER_SEPARATOR + value + wire.CRLF)


# -- the head forwarded upstream ----------------------------------------------------------------------------

_SP = b" "
#: Where the value is in an `x-request-id: <id>\r\n` line.
_REQUEST_ID_VALUE = slice(len(b"x-request-id: "), -2)


def header_value(lines: list[bytes], name: bytes) -> bytes | None:
    """The first value of the header `name` (lower case) in a head's lines, looked for only when something
    reads it (the access log's User-Agent): no map of every header is built."""
    size = len(name)
    for line in lines[1:]:
        if line[size : size + 1] == b":" and line[:size].lower() == name:
            return line[size + 1 :].strip()
    return None


def request_id_value(request_id: bytes, sent: bool) -> bytes:
    """The request's id: the value the client `sent`, or the proxy's own, from the line it added (sliced
    only when something reads it: the access log, a span)."""
    return request_id if sent else request_id[_REQUEST_ID_VALUE]


_XFP_HTTP = b"x-forwarded-proto: http\r\n"
_XFP_HTTPS = b"x-forwarded-proto: https\r\n"


class HeadToForward(Protocol):
    """The dispatched request whose head is completed for upstream (the downstream connection)."""

    runtime: ConnectionRuntime
    method: bytes
    path: bytes
    authority: bytes
    scheme: bytes
    lines: list[bytes]
    host_index: int
    has_request_id: bool
    has_forwarded_proto: bool
    forwarded_for: int
    client_cert_line: bytes
    peer_address: bytes
    peer_index: int
    span: SpanContext | None
    header_map: dict[bytes, bytes] | None
    trace_headers: TraceHeaders | None
    request_id: bytes

    def header(self, name: bytes) -> bytes | None: ...


def absolute_form(request: HeadToForward, url: bytes) -> None:
    """An absolute-form request target: forwarded in origin form, its authority as the Host."""
    request.authority, request.path = split_absolute_form(url)
    host_line = b"host: " + request.authority + wire.CRLF
    if request.host_index:
        request.lines[request.host_index] = host_line
    else:
        request.host_index = len(request.lines)
        request.lines.append(host_line)


def finish_head(request: HeadToForward, listener: ListenerConfig, route: CompiledRoute) -> None:
    """The request line and the headers the proxy adds; the attempt count goes last, per try."""
    lines = request.lines
    lines[0] = request.method + _SP + request.path + wire.HTTP11
    if not request.has_request_id:
        request.request_id = request.runtime.request_ids.header()  # the line; request_id_value() reads it
        lines.append(request.request_id)
    if not request.has_forwarded_proto:
        lines.append(_XFP_HTTPS if request.scheme == b"https" else _XFP_HTTP)
    if request.client_cert_line:
        lines.append(request.client_cert_line)
    if listener.append_forwarded_for:
        append_forwarded_for(lines, request.forwarded_for, request.peer_address)
    if request.runtime.tracer.collector is not None:
        trace_head(request)
    if route.extra_headers:
        lines.append(route.extra_headers)
    if listener.peer_line:
        # The caller's metadata goes to mesh peers only; upstream_ready blanks it for anyone else.
        request.peer_index = len(lines)
        lines.append(listener.peer_line)
    lines.append(wire.CRLF)


def trace_head(request: HeadToForward) -> None:
    """Tracing on: this hop's span, and the trace headers rewritten for the next hop (the incoming ones, noted
    as they were parsed, are emptied: other fields hold indexes into the lines)."""
    seen = request.trace_headers
    sampling = request.runtime.tracer.sampling
    lines = request.lines
    if seen is None:
        span = request.span = new_trace(sampling)
    else:
        span = request.span = start_span(seen.values.get, sampling)
        request.header_map = None
        for index in seen.lines:
            lines[index] = b""
    lines.append(outgoing_headers(span))


def split_absolute_form(url: bytes) -> tuple[bytes, bytes]:
    """`http://authority/path?query` → (authority, origin-form path); the path is `/` when there is none."""
    rest = url[url.index(b"//") + 2 :]
    slash = rest.find(b"/")
    query = rest.find(b"?")
    cut = slash if slash >= 0 and (query < 0 or slash < query) else query
    if cut < 0:
        return rest, b"/"
    return rest[:cut], rest[cut:] if rest[cut : cut + 1] == b"/" else b"/" + rest[cut:]


def append_forwarded_for(lines: list[bytes], index: int, address: bytes) -> None:
    """Add the client `address` to the request's x-forwarded-for line (at `index`; 0: none yet)."""
    if index > 0:
        line = lines[index]
        lines[index] = line[:-2] + b", " + address + wire.CRLF
    else:
        lines.append(b"x-forwarded-for: " + address + wire.CRLF)
