"""Request-head classification: the few header names the proxy acts on while a request head is parsed, and
what it notes of each.

A table and one function over it, kept out of the connection's state machine: the parser callback looks a
name up in `KNOWN_NAMES` (names as clients spell them, filled as they are seen) and, for the few names that
matter, `note_special_header` records the fact on the request being parsed and says whether the line is
forwarded. Every other header line goes upstream as it came, without being lowered or looked at again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from . import wire
from .telemetry import PEER_HEADER

if TYPE_CHECKING:
    from .config import ListenerConfigRef

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
) = range(1, 12)

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
    client_cert_line: bytes
    listener_ref: ListenerConfigRef


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
    return False


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
