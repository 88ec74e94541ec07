"""Listening sockets. A push that keeps a listener's address keeps its socket and swaps its compiled config;
new listeners are bound before old ones are closed.

Outbound and plaintext gateway listeners accept with the event loop's own server. Inbound listeners (and
TLS gateway servers) accept themselves so that they can look at the first bytes before choosing: a TLS
ClientHello goes to the mTLS context, plaintext goes to the app under PERMISSIVE or DISABLE and is refused
(closed, counted, nothing reaches the app) under STRICT.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .config import CompiledConfig, ListenerConfig, ListenerConfigRef, ListenerKey
from .router import ConfigError
from .tls import looks_like_tls

if TYPE_CHECKING:
    from .runtime import ConnectionRuntime

log = logging.getLogger("mesh_runtime.proxy")

BACKLOG = 1024
#: A TLS handshake that takes longer is abandoned (Envoy's transport_socket_connect_timeout is 15 s).
HANDSHAKE_TIMEOUT = 15.0
_PEEK_BYTES = 8


class Closable(Protocol):
    def close(self) -> None: ...


class SniffingServer:
    """Accepts connections on `sock` and hands each to TLS or plaintext after peeking at its first bytes."""

    def __init__(
        self,
        runtime: ConnectionRuntime,
        sock: socket.socket,
        ref: ListenerConfigRef,
        context_for: Callable[[ListenerConfig], ssl.SSLContext | None],
    ) -> None:
        self._runtime = runtime
        self._loop = runtime.loop
        self._sock = sock
        self._ref = ref
        self._context_for = context_for
        self._waiting: dict[int, socket.socket] = {}
        self._loop.add_reader(sock.fileno(), self._accept)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for fd, conn in list(self._waiting.items()):
            self._loop.remove_reader(fd)
            conn.close()
        self._waiting.clear()

    def _accept(self) -> None:
        for _ in range(64):
            try:
                conn, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.error("cannot accept a connection: %s", exc)
                    return
                raise
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._waiting[conn.fileno()] = conn
            self._loop.add_reader(conn.fileno(), self._sniff, conn)

    def _sniff(self, conn: socket.socket) -> None:
        try:
            first = conn.recv(_PEEK_BYTES, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            first = b""
        self._loop.remove_reader(conn.fileno())
        self._waiting.pop(conn.fileno(), None)
        if not first:
            conn.close()
            return
        listener = self._ref.current
        context = self._context_for(listener)
        tls = looks_like_tls(first)
        stats = self._runtime.stats
        if context is None:
            if tls and listener.kind == "gateway":
                conn.close()
                return
            tls = False  # DISABLE: whatever comes is plaintext HTTP
        elif not tls and (listener.kind == "gateway" or listener.mtls_mode == "STRICT"):
            stats.downstream_cx_plaintext_refused += 1
            conn.close()
            return
        task = self._loop.create_task(self._hand_over(conn, context if tls else None))
        self._runtime.tasks.add(task)
        task.add_done_callback(self._runtime.tasks.discard)

    async def _hand_over(self, conn: socket.socket, context: ssl.SSLContext | None) -> None:
        factory = self._runtime.protocol_factory(self._ref)
        try:
            if context is None:
                await self._loop.connect_accepted_socket(factory, conn)
            else:
                await self._loop.connect_accepted_socket(
                    factory, conn, ssl=context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
                )
        except (TimeoutError, OSError, ssl.SSLError, ConnectionError):
            self._runtime.stats.downstream_cx_tls_refused += 1
            conn.close()


class BoundListener:
    __slots__ = ("ref", "server", "shape")

    def __init__(self, ref: ListenerConfigRef, server: Closable, shape: tuple[object, ...]) -> None:
        self.ref = ref
        self.server = server
        self.shape = shape


class ListenerManager:
    def __init__(self, runtime: ConnectionRuntime) -> None:
        self._runtime = runtime
        self.bound: dict[ListenerKey, BoundListener] = {}

    async def prepare(self, compiled: CompiledConfig) -> dict[ListenerKey, BoundListener]:
        """Bind the sockets `compiled` needs that are not bound yet (ConfigError when one cannot be)."""
        fresh: dict[ListenerKey, BoundListener] = {}
        try:
            for key, listener in compiled.listeners.items():
                current = self.bound.get(key)
                if current is not None and current.shape == listener.socket_shape():
                    continue
                fresh[key] = await self._bind(listener, reuse_port=current is not None)
        except BaseException:
            for bound in fresh.values():
                bound.server.close()
            raise
        return fresh

    def commit(self, compiled: CompiledConfig, fresh: dict[ListenerKey, BoundListener]) -> None:
        """Point every listener at its new config; close the sockets no longer wanted."""
        for key, bound in list(self.bound.items()):
            if key not in compiled.listeners or key in fresh:
                bound.server.close()
                del self.bound[key]
        for key, listener in compiled.listeners.items():
            if key in fresh:
                self.bound[key] = fresh[key]
            else:
                self.bound[key].ref.current = listener

    def close(self) -> None:
        for bound in self.bound.values():
            bound.server.close()
        self.bound.clear()

    async def _bind(self, listener: ListenerConfig, reuse_port: bool) -> BoundListener:
        runtime = self._runtime
        ref = ListenerConfigRef(listener)
        address, port = listener.key
        try:
            if listener.kind == "outbound" or (listener.kind == "gateway" and listener.server_tls is None):
                server: Closable = await runtime.loop.create_server(
                    runtime.protocol_factory(ref),
                    address,
                    port,
                    reuse_address=True,
                    reuse_port=reuse_port or None,
                    backlog=BACKLOG,
                )
            else:
                server = SniffingServer(
                    runtime, _listening_socket(address, port), ref, runtime.server_context
                )
        except OSError as exc:
            raise ConfigError(
                f"listener {listener.spec.name}: cannot listen on {address}:{port}: {exc.strerror or exc}"
            ) from None
        return BoundListener(ref, server, listener.socket_shape())


def _listening_socket(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
