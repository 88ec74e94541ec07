"""Bytes that never change, built once: status lines, local replies, Envoy's response flags and bodies.

A local reply (404 no route, 503 no healthy upstream, …) is one write of precomputed pieces; only the `date`
header changes, and it is refreshed once a second by `DateHeader.tick`, not per reply.
"""

from __future__ import annotations

import email.utils
import http
import os
import time

CRLF = b"\r\n"
HEADER_SEPARATOR = b": "
END_OF_HEAD = b"\r\n"
HTTP11 = b" HTTP/1.1\r\n"
LAST_CHUNK = b"0\r\n\r\n"
CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"

#: Envoy's default limits: 60 KiB of request headers, 100 headers (max_request_headers_kb/count).
MAX_HEAD_BYTES = 60 * 1024
MAX_HEADER_COUNT = 100
#: Transport buffer size at which reading from the other side pauses (uvicorn's HIGH_WATER_LIMIT).
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024
#: A request body up to this size is kept so that a retry can resend it (Envoy's retry buffer).
RETRY_BUFFER_LIMIT = 64 * 1024


def _reason(code: int) -> bytes:
    try:
        return http.HTTPStatus(code).phrase.encode("ascii")
    except ValueError:
        return b"Unknown"


#: `HTTP/1.1 200 OK\r\n` for every code; an unknown code gets "Unknown" as its reason.
STATUS_LINES: tuple[bytes, ...] = tuple(b"HTTP/1.1 %d %s\r\n" % (code, _reason(code)) for code in range(600))


def status_line(code: int) -> bytes:
    return STATUS_LINES[code] if 0 <= code < 600 else b"HTTP/1.1 %d Unknown\r\n" % code


# ---------------------------------------------------------------------------------------------- flags

# Envoy's %RESPONSE_FLAGS% short names (what Istio's `response_flags` label carries).
NO_HEALTHY_UPSTREAM = "UH"
UPSTREAM_CONNECTION_FAILURE = "UF"
UPSTREAM_OVERFLOW = "UO"
NO_ROUTE_FOUND = "NR"
NO_CLUSTER_FOUND = "NC"
UPSTREAM_RETRY_LIMIT_EXCEEDED = "URX"
UPSTREAM_REQUEST_TIMEOUT = "UT"
UPSTREAM_CONNECTION_TERMINATION = "UC"
UPSTREAM_PROTOCOL_ERROR = "UPE"
DOWNSTREAM_CONNECTION_TERMINATION = "DC"
DOWNSTREAM_PROTOCOL_ERROR = "DPE"
DELAY_INJECTED = "DI"
FAULT_INJECTED = "FI"
UNAUTHORIZED = "UAEX"
RBAC_DENIED = "RBAC"

# ---------------------------------------------------------------------------------------------- bodies

RESET_BEFORE_HEADERS = "upstream connect error or disconnect/reset before headers. reset reason: "
BODY_NO_HEALTHY_UPSTREAM = b"no healthy upstream"
BODY_CONNECTION_FAILURE = (RESET_BEFORE_HEADERS + "connection failure").encode()
BODY_CONNECTION_TERMINATION = (RESET_BEFORE_HEADERS + "connection termination").encode()
BODY_OVERFLOW = (RESET_BEFORE_HEADERS + "overflow").encode()
BODY_PROTOCOL_ERROR = (RESET_BEFORE_HEADERS + "protocol error").encode()
BODY_TIMEOUT = b"upstream request timeout"
BODY_FAULT_ABORT = b"fault filter abort"
BODY_RBAC_DENIED = b"RBAC: access denied"
BODY_BAD_REQUEST = b"Bad Request"
BODY_HEADERS_TOO_LARGE = b"Request Header Fields Too Large"


class DateHeader:
    """The `date:` header line of local replies, rebuilt at most once a second."""

    __slots__ = ("line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self.line = b""
        self.tick()

    def tick(self) -> None:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self.line = b"date: " + email.utils.formatdate(now, usegmt=True).encode("ascii") + CRLF


DATE = DateHeader()

_SERVER = b"server: envoy\r\n"
_TEXT = b"content-type: text/plain\r\n"
_CLOSE = b"connection: close\r\n"


def local_reply(status: int, body: bytes = b"", *, close: bool = False, extra: bytes = b"") -> bytes:
    """A whole response the proxy answers itself, as Envoy shapes its local replies."""
    parts = [status_line(status), b"content-length: %d\r\n" % len(body)]
    if body:
        parts.append(_TEXT)
    parts += (DATE.line, _SERVER, extra)
    if close:
        parts.append(_CLOSE)
    parts += (CRLF, body)
    return b"".join(parts)


class RequestIds:
    """x-request-id values shaped like UUID4s: a random per-process prefix and a counter (no syscall each).

    The line is the part before the counter's last two hex digits (rebuilt every 256 ids) plus one of 256
    precomputed endings: one concatenation a request instead of a formatting."""

    __slots__ = ("_prefix", "_next", "_head")

    def __init__(self) -> None:
        random = os.urandom(10).hex()
        variant = "89ab"[os.urandom(1)[0] % 4]
        self._prefix = f"{random[:8]}-{random[8:12]}-4{random[12:15]}-{variant}{random[15:18]}-".encode()
        self._next = 0
        self._head = self._head_for(0)

    def _head_for(self, counter: int) -> bytes:
        return b"x-request-id: %s%010x" % (self._prefix, (counter >> 8) & 0xFFFFFFFFFF)

    def header(self) -> bytes:
        """The whole `x-request-id: …\r\n` line."""
        counter = self._next = (self._next + 1) & 0xFFFFFFFFFFFF
        low = counter & 0xFF
        if not low:
            self._head = self._head_for(counter)
        return self._head + _ID_ENDINGS[low]


_ID_ENDINGS = tuple(b"%02x\r\n" % low for low in range(256))


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)
