"""A small HTTP/1.1 server: one asyncio Protocol per connection, parsed by httptools (llhttp).

Requests on a connection are answered in order (keep-alive and pipelining); each is handed whole (bodies
are small JSON documents, capped) to an async handler that returns a `Response`, or an `Upgrade` to switch
the connection to another protocol after `101 Switching Protocols` (meshd's discovery stream). Malformed
requests get a 400 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

import httptools

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
#: A connection that sends no complete request for this long is closed.
IDLE_TIMEOUT = 75.0


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    transport: asyncio.Transport

    def json(self) -> Any:
        """The body as JSON; ValueError with a message fit for a 400 otherwise."""
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"the request body is not JSON: {exc}") from None

    def bearer_token(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    @property
    def peer_certificate(self) -> dict[str, Any] | None:
        """The verified client certificate (as `ssl.getpeercert()`), None when the client sent none."""
        cert = self.transport.get_extra_info("peercert")
        return cert if cert else None


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Upgrade:
    """Switch the connection to `protocol` (the Upgrade header's value) once 101 is sent."""

    protocol: str
    make_protocol: Callable[[asyncio.Transport], asyncio.Protocol]
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


Handler = Callable[[Request], Awaitable[Response | Upgrade]]


def json_response(status: int, data: Any) -> Response:
    return Response(status, json.dumps(data, indent=None, separators=(",", ":")).encode() + b"\n")


def error_response(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, text.encode(), content_type)


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, handler: Handler, connections: set[asyncio.Transport], name: str) -> None:
        self._handler = handler
        self._connections = connections
        self._name = name
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[tuple[Request, bool]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._closing = False
        self._upgrade_data: bytes | None = None
        # the request being parsed
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._problem: tuple[int, str] | None = None

    # -- connection -----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self._transport)
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._transport is not None:
            self._connections.discard(self._transport)
        if self._idle is not None:
            self._idle.cancel()
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._arm_idle_timer()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = int(upgrade.args[0]) if upgrade.args else len(data)
            self._upgrade_data = data[offset:]
            assert self._transport is not None
            self._transport.pause_reading()
        except httptools.HttpParserError as exc:
            problem = self._problem or (400, f"malformed HTTP request: {exc}")
            self._fail(*problem)

    # -- parser callbacks -----------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url, self._headers, self._header_bytes = b"", [], 0
        self._body, self._body_bytes, self._problem = [], 0, None

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value))
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > MAX_BODY_BYTES:
            self._problem = (413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
            raise ValueError("body too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        try:
            parsed = httptools.parse_url(self._url)
        except httptools.HttpParserInvalidURLError:
            self._problem = (400, "malformed request URL")
            raise ValueError("bad url") from None
        headers: dict[str, str] = {}
        for name, value in self._headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        request = Request(
            method=self._parser.get_method().decode("ascii", "replace"),
            path=unquote(parsed.path.decode("latin-1")),
            query=dict(parse_qsl(parsed.query.decode("latin-1"))) if parsed.query else {},
            headers=headers,
            body=b"".join(self._body),
            transport=self._transport,
        )
        self._queue.append((request, self._parser.should_keep_alive()))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._answer_requests())

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            self._problem = (431, f"the request head is larger than {MAX_HEADER_BYTES} bytes")
            raise ValueError("head too large")

    # -- answering ------------------------------------------------------------------------------------------

    async def _answer_requests(self) -> None:
        while self._queue and not self._closing:
            request, keep_alive = self._queue.popleft()
            try:
                outcome = await self._handler(request)
            except Exception:
                log.exception("%s: %s %s failed", self._name, request.method, request.path)
                outcome = error_response(500, "internal error in meshd; see its log")
            if isinstance(outcome, Upgrade):
                self._upgrade(outcome)
                return
            upgrading = self._upgrade_data is not None
            self._write(outcome, keep_alive and not upgrading)
            if not keep_alive or upgrading:
                self._close()
                return

    def _write(self, response: Response, keep_alive: bool) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        head = [
            f"HTTP/1.1 {response.status} {_reason(response.status)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{name}: {value}" for name, value in response.headers),
        ]
        self._transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)

    def _upgrade(self, upgrade: Upgrade) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        head = [
            "HTTP/1.1 101 Switching Protocols",
            "Connection: Upgrade",
            f"Upgrade: {upgrade.protocol}",
            *(f"{name}: {value}" for name, value in upgrade.headers),
        ]
        transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if self._idle is not None:
            self._idle.cancel()
        self._connections.discard(transport)
        protocol = upgrade.make_protocol(transport)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        leftover, self._upgrade_data = self._upgrade_data or b"", None
        if leftover:
            protocol.data_received(leftover)
        transport.resume_reading()

    def _fail(self, status: int, message: str) -> None:
        self._write(error_response(status, message), keep_alive=False)
        self._close()

    def _close(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def _arm_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(IDLE_TIMEOUT, self._on_idle)

    def _on_idle(self) -> None:
        if not self._queue and (self._worker is None or self._worker.done()):
            self._close()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
