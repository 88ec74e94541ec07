"""Distributed tracing: B3 and W3C `traceparent` headers created or propagated, one span per proxy hop, sent
to a Zipkin collector (v2 JSON, POST /api/v2/spans) in batches by a background task.

The request path only decides the span's ids and sampling and, when the request ends, appends a tuple to a
bounded queue; the JSON and the HTTP are the sender's work. A full queue drops spans (counted), it never
blocks a request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mesh_runtime import xds

from .telemetry import canonical_service

log = logging.getLogger("mesh_runtime.proxy.tracing")

TRACE_HEADERS = frozenset(
    (b"x-b3-traceid", b"x-b3-spanid", b"x-b3-parentspanid", b"x-b3-sampled", b"x-b3-flags", b"traceparent")
)
_random_bits = random.getrandbits
QUEUE_LIMIT = 10_000
BATCH_LIMIT = 500
FLUSH_INTERVAL = 0.2


@dataclass(slots=True)
class SpanContext:
    trace_id: str
    span_id: str
    parent_id: str
    sampled: bool


def _hex_id(bits: int) -> str:
    """A random non-zero id of `bits` bits in hex. Trace ids need to be unique, not secret: the process's
    PRNG (seeded from the OS at start) makes them without a syscall per request, as Envoy's do."""
    return f"{_random_bits(bits) or 1:0{bits // 4}x}"


#: A B3 trace id (64 or 128 bits), a span id (64 bits), a traceparent, in hex of either case.
_TRACE_ID = re.compile(rb"(?:[0-9a-fA-F]{16}){1,2}\Z")
_SPAN_ID = re.compile(rb"[0-9a-fA-F]{16}\Z")
_TRACEPARENT = re.compile(rb"[0-9a-fA-F]{2}-([0-9a-fA-F]{32})-([0-9a-fA-F]{16})-([0-9a-fA-F]{2})\Z")
_SAMPLED = frozenset((b"1", b"true", b"d"))


def _nonzero(value: bytes) -> bool:
    return value.strip(b"0") != b""


def _sampled(value: bytes | None) -> bool | None:
    if not value:
        return None
    return value.strip().lower() in _SAMPLED


def incoming_context(header: Callable[[bytes], bytes | None]) -> tuple[str, str, bool | None]:
    """(trace id, parent span id, sampled or None) from B3 first, then `traceparent`; ("", "", None)."""
    trace_id = (header(b"x-b3-traceid") or b"").strip()
    if _TRACE_ID.match(trace_id) and _nonzero(trace_id):
        span_id = (header(b"x-b3-spanid") or b"").strip()
        decision = True if header(b"x-b3-flags") == b"1" else _sampled(header(b"x-b3-sampled"))
        parent = span_id.decode("ascii").lower() if _SPAN_ID.match(span_id) and _nonzero(span_id) else ""
        return trace_id.decode("ascii").lower(), parent, decision
    found = _TRACEPARENT.match((header(b"traceparent") or b"").strip())
    if found is not None and _nonzero(found.group(1)) and _nonzero(found.group(2)):
        trace, span, flags = (part.decode("ascii").lower() for part in found.groups())
        return trace, span, bool(int(flags, 16) & 1)
    return "", "", None


def start_span(header: Callable[[bytes], bytes | None], sampling: float) -> SpanContext:
    trace_id, parent_id, sampled = incoming_context(header)
    if sampled is None:
        sampled = sampling >= 100 or random.random() * 100 < sampling
    return SpanContext(trace_id or _hex_id(128), _hex_id(64), parent_id, sampled)


def new_trace(sampling: float) -> SpanContext:
    """The span of a request that came with no trace headers: a new trace, sampled by the percentage."""
    return SpanContext(_hex_id(128), _hex_id(64), "", sampling >= 100 or random.random() * 100 < sampling)


_OUTGOING = b"x-b3-traceid: %s\r\nx-b3-spanid: %s\r\nx-b3-sampled: %s\r\n%straceparent: 00-%s-%s-0%s\r\n"


def outgoing_headers(span: SpanContext) -> bytes:
    """The trace headers the next hop receives (the old ones are removed by the caller)."""
    flag = b"1" if span.sampled else b"0"
    trace, own = span.trace_id.encode(), span.span_id.encode()
    parent = b"x-b3-parentspanid: " + span.parent_id.encode() + b"\r\n" if span.parent_id else b""
    return _OUTGOING % (trace, own, flag, parent, trace.rjust(32, b"0"), own, flag)


class Tracer:
    """One per proxy process; `configure` follows the pushed Telemetry."""

    __slots__ = (
        "sampling",
        "collector",
        "service_name",
        "node_id",
        "queue",
        "dropped",
        "sent",
        "failed",
        "_task",
        "_wake",
    )

    def __init__(self) -> None:
        self.sampling = 0.0
        self.collector: tuple[str, int] | None = None
        self.service_name = ""
        self.node_id = ""
        self.queue: deque[tuple[Any, ...]] = deque()
        self.dropped = 0
        self.sent = 0
        self.failed = 0
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    @property
    def active(self) -> bool:
        return self.collector is not None

    def configure(self, telemetry: xds.Telemetry, node: xds.Node) -> None:
        self.sampling = telemetry.trace_sampling
        self.collector = _address(telemetry.zipkin_address)
        self.service_name = f"{canonical_service(node.labels, node.workload)}.{node.namespace}"
        self.node_id = node.id
        if self.collector is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._send_forever())

    def finish(
        self,
        span: SpanContext,
        kind: Literal["CLIENT", "SERVER"],
        started_wall: float,
        duration: float,
        tags: tuple[str, ...],
    ) -> None:
        if len(self.queue) >= QUEUE_LIMIT:
            self.dropped += 1
            return
        self.queue.append((span.trace_id, span.span_id, span.parent_id, kind, started_wall, duration, tags))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.collector is not None and self.queue:
            await self._flush(self.collector)

    async def _send_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            collector = self.collector
            if collector is None or not self.queue:
                continue
            await self._flush(collector)

    async def _flush(self, collector: tuple[str, int]) -> None:
        batch = [self.queue.popleft() for _ in range(min(BATCH_LIMIT, len(self.queue)))]
        body = json.dumps([self._zipkin(entry) for entry in batch]).encode()
        try:
            await asyncio.wait_for(_post(collector, body), timeout=5.0)
            self.sent += len(batch)
        except (OSError, TimeoutError, ValueError) as exc:
            self.failed += len(batch)
            log.debug("could not send %d spans to %s:%d: %s", len(batch), *collector, exc)

    def _zipkin(self, entry: tuple[Any, ...]) -> dict[str, Any]:
        trace_id, span_id, parent_id, kind, started, duration, tags = entry
        method, authority, path, status, flags, cluster, request_id, upstream = tags
        span: dict[str, Any] = {
            "traceId": trace_id,
            "id": span_id,
            "name": f"{authority}{path.split('?', 1)[0]}",
            "kind": kind,
            "timestamp": int(started * 1_000_000),
            "duration": max(1, int(duration * 1_000_000)),
            "localEndpoint": {"serviceName": self.service_name},
            "tags": {
                "component": "proxy",
                "node_id": self.node_id,
                "http.method": method,
                "http.url": f"http://{authority}{path}",
                "http.status_code": status,
                "response_flags": flags or "-",
                "upstream_cluster": cluster,
                "upstream_host": upstream,
                "guid:x-request-id": request_id,
            },
        }
        if parent_id:
            span["parentId"] = parent_id
        if status.startswith("5") or status == "0":
            span["tags"]["error"] = "true"
        return span


def _address(value: str) -> tuple[str, int] | None:
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


async def _post(collector: tuple[str, int], body: bytes) -> None:
    reader, writer = await asyncio.open_connection(*collector)
    try:
        host = f"{collector[0]}:{collector[1]}".encode()
        writer.write(
            b"POST /api/v2/spans HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % (host, len(body))
        )
        writer.write(body)
        await writer.drain()
        status = await reader.readline()
        if not status.startswith(b"HTTP/1.") or status.split(b" ", 2)[1][:1] != b"2":
            raise ValueError(f"collector answered {status!r}")
    finally:
        writer.close()


def wall_clock_start(loop_now: float, loop_started: float) -> float:
    return time.time() - (loop_now - loop_started)


def tags_view(values: Mapping[str, str]) -> tuple[str, ...]:  # for tests: tags in the queue's order
    keys = ("method", "authority", "path", "status", "flags", "cluster", "request_id", "upstream")
    return tuple(values.get(key, "") for key in keys)
