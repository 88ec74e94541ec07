"""Keeping the discovery stream alive, so that a dead one is noticed even when no FIN ever arrives (a node
destroyed, a link cut, a process stopped).

The proxy asks for it with the request header `Meshlab-Heartbeat: 1` when it opens the stream; meshd's
`101 Switching Protocols` answers with the same header naming its ping interval in seconds (default 5).
From then on meshd sends a Ping every interval and the proxy answers each with a Pong; each side closes a
stream on which nothing arrived for `HEARTBEAT_MISSES` intervals (15 s by default) — meshd marks the
proxy's workload unhealthy at once, the proxy reconnects. A peer that does not send the header gets no
Ping (an older proxy) and sends none (an older meshd); those streams rely on TCP keepalive alone, which
both sides turn on for every stream (it catches a dead host or link, not a stopped process).
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

HEADER = "Meshlab-Heartbeat"
#: meshd's default ping interval, seconds.
DEFAULT_INTERVAL = 5.0
#: Intervals without a message after which a stream is dead.
HEARTBEAT_MISSES = 3


def silence_limit(interval: float) -> float:
    """How long a stream may stay silent before it counts as dead."""
    return interval * HEARTBEAT_MISSES


def parse_interval(value: str | None) -> float | None:
    """meshd's interval from its 101's header; None when it sent none, or no positive number."""
    if not value:
        return None
    try:
        interval = float(value)
    except ValueError:
        return None
    return interval if interval > 0 else None


def enable_tcp_keepalive(sock: Any, interval: float = DEFAULT_INTERVAL) -> None:
    """TCP keepalive probes after `interval` idle, every `interval`, dead after `HEARTBEAT_MISSES` unanswered;
    data unacknowledged for as long is dead too (TCP_USER_TIMEOUT). Best effort: a socket or platform that
    has no such option keeps its defaults."""
    if sock is None:
        return
    seconds = max(1, round(interval))
    options = [
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPIDLE", None), seconds),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPINTVL", None), seconds),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPCNT", None), HEARTBEAT_MISSES),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_USER_TIMEOUT", None), seconds * HEARTBEAT_MISSES * 1000),
    ]
    for level, option, value in options:
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(level, option, value)
