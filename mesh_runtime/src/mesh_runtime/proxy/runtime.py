"""What connections, mirrors and listening sockets use of the process-wide runtime, as Protocols.

server.ProxyRuntime builds the listeners and the downstream connections and holds them; they in turn read
its counters, clock, telemetry and TLS contexts. Typing them against these Protocols instead of the class
itself keeps that dependency one way: nothing in the request path imports server.py back.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .accesslog import AccessLog
    from .config import ListenerConfig, ListenerConfigRef
    from .stats import Stats
    from .telemetry import IstioMetrics
    from .tracing import Tracer
    from .wire import RequestIds


class ClientConnection(Protocol):
    """A downstream connection as the runtime tracks it: draining closes the idle ones, waits for the rest."""

    active: bool
    closed: bool
    transport: Any


class PeerIdentified(Protocol):
    """A TLS connection whose peer the runtime identifies once, from its certificate."""

    peer_identity: str
    client_cert_line: bytes
    listener_ref: ListenerConfigRef


class ConnectionRuntime(Protocol):
    """The process-wide state one connection (or listening socket) reads and counts into."""

    loop: asyncio.AbstractEventLoop
    stats: Stats
    metrics: IstioMetrics
    metrics_enabled: bool
    tracer: Tracer
    access_log: AccessLog | None
    request_ids: RequestIds
    connections: set[ClientConnection]
    tasks: set[asyncio.Task[Any]]
    draining: bool

    def identify_peer(self, protocol: PeerIdentified, ssl_object: Any) -> None: ...

    def protocol_factory(self, ref: ListenerConfigRef) -> Callable[[], asyncio.Protocol]: ...

    def server_context(self, listener: ListenerConfig) -> ssl.SSLContext | None: ...
