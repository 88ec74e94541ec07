"""Recording an exchange once it has ended: the Envoy-style counters, Istio's request metrics, the trace span
and the access-log line.

The connection calls `record_exchange` exactly once per request, whatever ended it (a response, a local
reply, a reset, a malformed request). What is recorded reads the exchange but never changes how it is
served, so it lives apart from the state machine; the functions read the connection through the
`RecordedExchange` protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol

from .request_head import header_value, request_id_value
from .tracing import wall_clock_start

if TYPE_CHECKING:
    from .accesslog import AccessLog
    from .cluster import ClusterState, EndpointState
    from .config import ListenerConfig
    from .runtime import ConnectionRuntime
    from .telemetry import Series
    from .tracing import SpanContext


class RecordedExchange(Protocol):
    """The downstream connection's current (just ended) exchange, and its cache of the last series."""

    runtime: ConnectionRuntime
    listener: ListenerConfig
    clock: Callable[[], float]
    started: float
    method: bytes
    path: bytes
    url: bytes
    authority: bytes
    http10: bool
    status: int
    response_started: bool
    flags: str
    cluster: ClusterState | None
    endpoint: EndpointState | None
    span: SpanContext | None
    #: The request's x-request-id (sent or made) and User-Agent, as parsed.
    request_id: bytes
    has_request_id: bool
    #: The request head's lines as forwarded.
    lines: list[bytes]
    request_bytes: int
    body_bytes: int
    response_bytes: int
    peer_address: bytes
    peer_metadata: bytes
    peer_identity: str
    last_series: Series | None
    last_target: object
    last_status: int
    last_flags: str

    def header(self, name: bytes) -> bytes | None: ...


def record_exchange(exchange: RecordedExchange) -> None:
    """Count the exchange that just ended, and report it where telemetry asks for it."""
    runtime = exchange.runtime
    stats = runtime.stats
    status = exchange.status if exchange.response_started else 0
    code = status if 0 <= status < 600 else 0
    stats.downstream_rq_by_code[code] += 1
    cluster = exchange.cluster
    endpoint = exchange.endpoint
    if cluster is not None and endpoint is not None:
        cluster.stats.upstream_rq_by_code[code] += 1
        endpoint.rq_total += 1
    if exchange.flags:
        stats.count_flags(exchange.flags)
    if runtime.metrics_enabled:
        record_istio_metrics(exchange, status)
    if exchange.span is not None:
        finish_span(exchange, exchange.span, status)
    access_log = runtime.access_log
    if access_log is not None and access_log.enabled:
        log_access(exchange, access_log, status)


def log_access(exchange: RecordedExchange, access_log: AccessLog, status: int) -> None:
    now = exchange.runtime.loop.time()
    endpoint = exchange.endpoint
    access_log.write(
        wall_clock_start(now, exchange.started),
        now - exchange.started,
        exchange.method,
        exchange.path,
        "HTTP/1.0" if exchange.http10 else "HTTP/1.1",
        status,
        exchange.flags,
        (exchange.request_bytes or len(exchange.url) + 16) + exchange.body_bytes,
        exchange.response_bytes,
        f"{endpoint.address}:{endpoint.port}" if endpoint is not None else "",
        exchange.cluster.name if exchange.cluster is not None else "",
        request_id_value(exchange.request_id, exchange.has_request_id) or None,
        exchange.authority,
        header_value(exchange.lines, b"user-agent"),
        exchange.peer_address,
    )


def record_istio_metrics(exchange: RecordedExchange, status: int) -> None:
    duration_ms = (exchange.clock() - exchange.started) * 1000.0
    request_bytes = (exchange.request_bytes or len(exchange.url) + 16) + exchange.body_bytes
    flags = exchange.flags
    if exchange.listener.kind == "inbound":
        series = inbound_series(exchange, status, flags)
    else:
        # A connection's requests mostly share their series: the last one is kept, no key is built.
        last = exchange.last_series
        target = exchange.endpoint or exchange.cluster
        if (
            last is not None
            and target is exchange.last_target
            and status == exchange.last_status
            and flags == exchange.last_flags
        ):
            series = last
        else:
            series = outbound_series(exchange, target, status, flags)
    series.add(duration_ms, request_bytes, exchange.response_bytes)


def inbound_series(exchange: RecordedExchange, status: int, flags: str) -> Series:
    """The series of a request this proxy's workload served, by its caller (peer metadata and identity)."""
    peer = exchange.peer_metadata
    identity = exchange.peer_identity
    key = (peer, identity, status, flags)
    return exchange.runtime.metrics.inbound(key, peer, identity, bool(identity), status, flags)


def outbound_series(exchange: RecordedExchange, target: object, status: int, flags: str) -> Series:
    """The series of a request this proxy's workload sent (by endpoint, else cluster); kept as the last."""
    metrics = exchange.runtime.metrics
    key = (target, status, flags)
    series = metrics.series.get(key) or metrics.outbound(
        key, exchange.endpoint, exchange.cluster, status, flags
    )
    exchange.last_series = series
    exchange.last_target = target
    exchange.last_status = status
    exchange.last_flags = flags
    return series


def finish_span(exchange: RecordedExchange, span: SpanContext, status: int) -> None:
    """Tracing on: close this hop's span and hand it to the tracer when it is sampled."""
    exchange.span = None
    if not span.sampled:
        return
    now = exchange.runtime.loop.time()
    endpoint = exchange.endpoint
    tags = (
        exchange.method.decode("latin-1"),
        exchange.authority.decode("latin-1"),
        exchange.path.decode("latin-1"),
        str(status),
        exchange.flags,
        exchange.cluster.name if exchange.cluster is not None else "",
        request_id_value(exchange.request_id, exchange.has_request_id).decode("latin-1"),
        f"{endpoint.address}:{endpoint.port}" if endpoint is not None else "",
    )
    kind: Literal["CLIENT", "SERVER"] = "SERVER" if exchange.listener.kind == "inbound" else "CLIENT"
    exchange.runtime.tracer.finish(
        span, kind, wall_clock_start(now, exchange.started), now - exchange.started, tags
    )
