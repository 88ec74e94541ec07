"""The application behind the sidecars in the mesh benchmarks: answers every GET with Bookinfo's 128-byte
details JSON, keep-alive, as fast as a small asyncio server can (uvloop), so that what is measured is the
proxies. `python -m bench.app PORT [HOST]`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import uvloop

from .baselines import BODY

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


def complete_requests(buffer: bytearray) -> int:
    """How many whole request heads (bodiless GETs) `buffer` holds; they are removed from it."""
    count = 0
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return count
        del buffer[: end + 4]
        count += 1


class App(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = complete_requests(self.buffer)
        if count and self.transport is not None:
            self.transport.write(RESPONSE * count)


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(App, host, port, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    uvloop.run(serve(host, port))


if __name__ == "__main__":
    main()
