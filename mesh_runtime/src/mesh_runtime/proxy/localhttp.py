"""A small HTTP/1.1 server for the proxy's own endpoints (admin, Prometheus stats).

Not on the request path, so a plain asyncio streams server: one request at a time per connection, heads up
to 16 KiB, request bodies read and dropped. The endpoints are a handler from method and target to a reply.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

MAX_REQUEST = 16 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    #: Called once the reply is written; the connection is closed after it (admin's /quitquitquit).
    then: Callable[[], None] | None = None


def text(status: int, body: str) -> Reply:
    return Reply(status, "text/plain", body.encode())


Handler = Callable[[str, str], Reply]


class LocalHttpServer:
    """Serves `handle(method, target)` on one address and port."""

    def __init__(self, handle: Handler) -> None:
        self._handle = handle
        self._server: asyncio.Server | None = None

    async def start(self, address: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, address, port, reuse_address=True)

    @property
    def port(self) -> int:
        """The port it listens on (the one picked for port 0)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > MAX_REQUEST:
                    break
                parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
                if len(parts) != 3:
                    writer.write(_response(text(400, "bad request\n"), close=True))
                    break
                method, target, _ = parts
                length = _content_length(head)
                if length:
                    await reader.readexactly(min(length, MAX_REQUEST))
                reply = self._handle(method, target)
                writer.write(_response(reply, close=reply.then is not None))
                await writer.drain()
                if reply.then is not None:
                    reply.then()
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return max(int(value.strip()), 0)
            except ValueError:
                return 0
    return 0


def _response(reply: Reply, close: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}\r\n"
        f"content-type: {reply.content_type}\r\ncontent-length: {len(reply.body)}\r\n"
        f"{'connection: close' + chr(13) + chr(10) if close else ''}\r\n"
    )
    return head.encode() + reply.body
