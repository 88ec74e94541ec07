"""Load generators: `wrk` for closed-loop throughput (its output parsed), and an open-loop constant-rate
client for latency at a fixed request rate (wrk2's method: requests leave on a fixed timetable whatever the
answers do, so a slow answer cannot hide the requests it delayed).

The constant-rate client is asyncio on one CPU: at 1000 requests/s it spends a small part of a core, and it
times each request from the moment its bytes were written to the moment the whole response was read
(`service` latency) and also from the moment the timetable said it should leave (`intended` latency, which
counts the client's own lateness and any queueing). Both the mesh path and the direct path go through the
same client in the same run, so what the client adds cancels in the difference.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import uvloop

from .common import LOAD_CPU, BenchError, need, pinned

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
_DURATION = re.compile(r"^([0-9.]+)(us|ms|s|m)$")
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m),", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PERCENTILE = re.compile(r"^\s+(\d+(?:\.\d+)?)%\s+([0-9.]+(?:us|ms|s|m))\s*$", re.MULTILINE)


def seconds(text: str) -> float:
    """wrk's durations (`412.12us`, `1.33ms`, `6.00s`, `1.00m`) in seconds."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    #: Latency percentile (50, 75, 90, 99) → seconds, when wrk ran with --latency.
    latency: dict[float, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse_wrk(output: str) -> WrkRun:
    found = _REQUESTS.search(output)
    if found is None:
        raise BenchError(f"wrk printed no request count:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    latency = {float(p): seconds(d) for p, d in _PERCENTILE.findall(output)}
    return WrkRun(
        requests=int(found.group(1)),
        seconds=float(found.group(2)) * _UNITS[found.group(3)],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        latency=latency,
    )


def run_wrk(url: str, seconds: int, connections: int, headers: Sequence[str] = ()) -> WrkRun:
    """`wrk -t1` on the load CPU, keep-alive, `--latency`; the parsed run."""
    need("wrk")
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        argv += ["-H", header]
    done = subprocess.run(pinned(LOAD_CPU, [*argv, url]), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


# -- constant rate ----------------------------------------------------------------------------------------


def timetable(rate: float, duration: float, start: float = 0.0) -> list[float]:
    """When each request should leave: `rate` a second, evenly spaced, for `duration` seconds."""
    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be positive")
    count = int(rate * duration)
    return [start + index / rate for index in range(count)]


def content_length(head: bytes) -> int:
    """The Content-Length of a response head (the bytes before the blank line); 0 when there is none."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


@dataclass
class RateRun:
    """Latencies in seconds of every request answered, and what went wrong."""

    service: list[float] = field(default_factory=list)
    intended: list[float] = field(default_factory=list)
    errors: int = 0
    #: Requests that left later than their time by more than a millisecond (the client was behind).
    late: int = 0


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.closed = done
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        length = content_length(bytes(self.buffer[:end]))
        whole = end + 4 + length
        if len(self.buffer) >= whole:
            response = bytes(self.buffer[:whole])
            del self.buffer[:whole]
            waiter, self.waiter = self.waiter, None
            if not waiter.done():
                waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the connection closed mid-request"))

    async def exchange(self, request: bytes) -> bytes:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


async def _constant_rate(
    host: str, port: int, request: bytes, rate: float, duration: float, connections: int
) -> RateRun:
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        _, protocol = await loop.create_connection(lambda: _Connection(loop.create_future()), host, port)
        idle.put_nowait(protocol)
    result = RateRun()
    start = loop.time() + 0.05
    pending: set[asyncio.Task[None]] = set()

    async def one(intended: float) -> None:
        connection = await idle.get()
        sent = time.perf_counter()
        lateness = loop.time() - intended
        try:
            response = await connection.exchange(request)
        except ConnectionError:
            result.errors += 1
            return
        finished = time.perf_counter()
        idle.put_nowait(connection)
        if not response.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
            result.errors += 1
            return
        result.service.append(finished - sent)
        result.intended.append(finished - sent + max(lateness, 0.0))
        if lateness > 0.001:
            result.late += 1

    for intended in timetable(rate, duration, start):
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(one(intended))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=10)
    while not idle.empty():
        connection = idle.get_nowait()
        if connection.transport is not None:
            connection.transport.close()
    return result


def constant_rate(
    host: str,
    port: int,
    path: str = "/",
    *,
    host_header: str = "",
    rate: float = 1000.0,
    duration: float = 10.0,
    connections: int = 16,
) -> RateRun:
    """Requests of `path` to host:port at `rate` a second for `duration` seconds, open loop."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host_header or f'{host}:{port}'}\r\nUser-Agent: meshlab-bench\r\n\r\n"
    ).encode()
    return uvloop.run(_constant_rate(host, port, request, rate, duration, connections))
