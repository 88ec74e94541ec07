"""The discovery stream on meshd's side: newline-delimited JSON over the upgraded mutual-TLS connection.

The first line must be the proxy's Hello, and its Node must be the identity of the client certificate
(namespace and service account); anything else ends the stream with a final Nack saying why, counted in
`meshd_discovery_streams_refused_total`. Then the proxy's Acks and Nacks go to the push server, and pushes
come back on the same connection. When the connection ends, the proxy's workload is marked unhealthy.

A proxy that asked for a heartbeat (`xds/heartbeat.py`) is sent a Ping every interval; a stream on which it
sent nothing for three intervals is closed at once (counted in `meshd_discovery_streams_silent_total`), which
marks its workload unhealthy as any ended stream does. Every stream has TCP keepalive on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from ..ca import Identity
from ..discovery.push import ProxyConnection
from ..xds.heartbeat import DEFAULT_INTERVAL, enable_tcp_keepalive, silence_limit
from ..xds.protocol import MAX_MESSAGE_BYTES, Ack, Hello, Nack, Ping, Pong, ProtocolError, dump, load
from .state import MeshState

log = logging.getLogger(__name__)


class DiscoveryStream(asyncio.Protocol):
    def __init__(
        self,
        state: MeshState,
        identity: Identity,
        heartbeat: float | None = None,
        keepalive: float = DEFAULT_INTERVAL,
    ) -> None:
        self._state = state
        self._identity = identity
        #: The ping interval (seconds) when the proxy asked for a heartbeat; None when it did not.
        self._heartbeat = heartbeat
        self._keepalive = keepalive
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._connection: ProxyConnection | None = None
        self._closed = False
        self._heard = 0.0
        self._beat: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        enable_tcp_keepalive(transport.get_extra_info("socket"), self._heartbeat or self._keepalive)
        if self._heartbeat is not None:
            loop = asyncio.get_running_loop()
            self._heard = loop.time()
            self._beat = loop.call_later(self._heartbeat, self._on_beat)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if self._beat is not None:
            self._heard = asyncio.get_running_loop().time()
        self._buffer += data
        while not self._closed:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_MESSAGE_BYTES:
                    self._refuse("message_too_large", f"a message is longer than {MAX_MESSAGE_BYTES} bytes")
                return
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if line.strip():
                self._handle(line)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._beat is not None:
            self._beat.cancel()
        if self._connection is not None:
            self._state.proxy_disconnected(self._connection)
            log.info("proxy %s disconnected", self._connection.node.id)
            self._connection = None

    # -- messages -------------------------------------------------------------------------------------------

    def _handle(self, line: bytes) -> None:
        try:
            message = load(line)
        except ProtocolError as exc:
            self._refuse("bad_message", f"bad message: {exc}")
            return
        if self._connection is None:
            if not isinstance(message, Hello):
                self._refuse(
                    "no_hello", f"the first message must be hello, not {type(message).__name__.lower()}"
                )
                return
            self._hello(message)
        elif isinstance(message, Ack):
            self._state.push.acknowledge(self._connection, message)
        elif isinstance(message, Nack):
            self._state.push.reject(self._connection, message)
        elif isinstance(message, Pong):
            pass  # heard: that is all a Pong says
        else:
            self._refuse("bad_message", f"unexpected {type(message).__name__.lower()} after hello")

    def _hello(self, hello: Hello) -> None:
        node = hello.node
        identity = self._identity
        if (node.namespace, node.service_account) != (identity.namespace, identity.service_account):
            self._refuse(
                "identity_mismatch",
                f"node {node.id!r} says it is namespace {node.namespace!r}, service account "
                f"{node.service_account!r}, but its certificate is {identity.uri}",
            )
            return
        if not node.id or not node.workload:
            self._refuse("bad_node", "the node needs an id and a workload name")
            return
        self._connection = self._state.proxy_connected(node, self._send, self._close)
        log.info("proxy %s connected as %s", node.id, identity.uri)

    # -- heartbeat ------------------------------------------------------------------------------------------

    def _on_beat(self) -> None:
        """Every interval: close the stream if the proxy has been silent too long, else Ping it."""
        assert self._heartbeat is not None
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        silent = loop.time() - self._heard
        if silent >= silence_limit(self._heartbeat):
            self._silent(silent)
            return
        try:
            self._send(dump(Ping()))
        except ConnectionError:
            return
        self._beat = loop.call_later(self._heartbeat, self._on_beat)

    def _silent(self, silent: float) -> None:
        """Nothing came for too long: the proxy or the way to it is gone. Abort (do not wait to flush)."""
        who = self._connection.node.id if self._connection is not None else self._identity.uri
        self._state.push.metrics.silent_streams.increment()
        log.warning("proxy %s sent nothing for %.1fs: its discovery stream is closed as dead", who, silent)
        if self._transport is not None:
            self._transport.abort()

    # -- writing --------------------------------------------------------------------------------------------

    def _send(self, line: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the stream is closed")
        self._transport.write(line)

    def _close(self, reason: str) -> None:
        """Close the stream (from meshd's side), telling the proxy why."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(dump(Nack("", "", reason)))
            self._transport.close()
        self._closed = True

    def _refuse(self, reason: str, message: str) -> None:
        self._state.push.metrics.refused_streams.increment(reason)
        log.warning("discovery stream from %s refused: %s", self._identity.uri, message)
        self._close(message)
