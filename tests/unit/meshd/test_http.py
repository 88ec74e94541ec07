"""The HTTP/1.1 server protocol on real loopback sockets: keep-alive, pipelining, errors, upgrades."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from mesh_runtime.meshd import http
from mesh_runtime.meshd.http import HttpProtocol, Request, Response, Upgrade, json_response


class Echo(asyncio.Protocol):
    """What the connection becomes after an upgrade: echoes what it receives, upper-cased."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data.upper())


async def handler(request: Request) -> Response | Upgrade:
    if request.path == "/upgrade":
        return Upgrade("echo", lambda transport: Echo())
    if request.path == "/boom":
        raise RuntimeError("a bug")
    if request.path == "/slow":
        await asyncio.sleep(0.05)
    return json_response(200, {"path": request.path, "query": request.query, "body": request.body.decode()})


async def with_server(test: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> None:
    connections: set[asyncio.Transport] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(handler, connections, "test"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await asyncio.wait_for(test(reader, writer), 10)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


async def response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head, await reader.readexactly(length)


def run(test: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> None:
    uvloop.run(with_server(test))


def test_keep_alive_and_pipelined_requests_are_answered_in_order() -> None:
    async def test(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /b?k=v%20w HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        )
        first_head, first = await response(reader)
        assert first_head.startswith(b"HTTP/1.1 200 OK\r\n") and b'"path":"/slow"' in first
        assert b"Connection: keep-alive" in first_head
        _, second = await response(reader)
        assert b'"query":{"k":"v w"}' in second and b'"body":"abc"' in second

    run(test)


def test_malformed_requests_get_400_and_the_connection_closes() -> None:
    async def test(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        head, body = await response(reader)
        assert head.startswith(b"HTTP/1.1 400 Bad Request") and b"malformed HTTP request" in body
        assert await reader.read() == b""

    run(test)


def test_a_handler_bug_is_a_500_not_a_crash() -> None:
    async def test(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = await response(reader)
        assert head.startswith(b"HTTP/1.1 500")
        _, after = await response(reader)
        assert b'"path":"/after"' in after

    run(test)


def test_oversized_bodies_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 10)

    async def test(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n" + b"x" * 20)
        head, _ = await response(reader)
        assert head.startswith(b"HTTP/1.1 413")

    run(test)


def test_upgrade_hands_the_connection_and_early_bytes_to_the_new_protocol() -> None:
    async def test(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n") and b"Upgrade: echo" in head
        assert await reader.readexactly(5) == b"EARLY"
        writer.write(b"later")
        assert await reader.readexactly(5) == b"LATER"

    run(test)
