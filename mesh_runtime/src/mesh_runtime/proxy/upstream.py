"""One keep-alive connection to an upstream endpoint, parsing responses with httptools.

In the common case a response goes back to the client byte for byte: the parser only finds where the
response ends and its status, and each chunk read is written downstream as it is (no header callbacks, no
re-framing). When the response must change (response header operations, an HTTP/1.0 client) the connection
uses a second parser with header callbacks and the owner rebuilds the head.
"""

from __future__ import annotations

import asyncio
from typing import Any, Generic, Protocol, TypeVar

import httptools

from .wire import MAX_HEAD_BYTES

#: What the owner wants done with a response, decided when its head is complete.
PASS, REWRITE, DISCARD = 0, 1, 2


class ConnectionPool(Protocol):
    """Where a connection goes back to (the endpoint's cluster), told when its transport is gone."""

    def connection_closed(self, connection: UpstreamConnection[Any]) -> None: ...


class PooledEndpoint(Protocol):
    """The endpoint a connection is open to (cluster.EndpointState), as far as the connection needs it."""

    @property
    def cluster(self) -> ConnectionPool: ...


#: The endpoint type a connection carries: the pool's own endpoint state, so its users get it back typed.
EndpointT = TypeVar("EndpointT", bound=PooledEndpoint)


class ResponseOwner(Protocol):
    """The request a connection is serving (the downstream connection, or a mirror)."""

    transport: Any

    def upstream_headers(self, connection: UpstreamConnection[Any], status: int) -> int: ...

    def upstream_body(self, connection: UpstreamConnection[Any], data: bytes) -> None: ...

    def upstream_done(self, connection: UpstreamConnection[Any]) -> None: ...

    def upstream_lost(self, connection: UpstreamConnection[Any], error: str) -> None: ...

    def upstream_paused(self, paused: bool) -> None: ...


class _HeaderCallbacks:
    """The parser callbacks of the rewrite mode: header lines collected, body handed to the owner."""

    __slots__ = ("connection",)

    def __init__(self, connection: UpstreamConnection[Any]) -> None:
        self.connection = connection

    def on_header(self, name: bytes, value: bytes) -> None:
        self.connection.lines.append(b"%s: %s\r\n" % (name, value))

    def on_headers_complete(self) -> None:
        self.connection.on_headers_complete()

    def on_body(self, body: bytes) -> None:
        connection = self.connection
        if connection.mode == REWRITE and connection.owner is not None:
            connection.owner.upstream_body(connection, body)

    def on_message_complete(self) -> None:
        self.connection.on_message_complete()


class UpstreamConnection(asyncio.Protocol, Generic[EndpointT]):
    __slots__ = (
        "endpoint",
        "transport",
        "owner",
        "open",
        "requests",
        "idle_since",
        "parser",
        "_fast_parser",
        "_full_parser",
        "headers_done",
        "complete",
        "mode",
        "prefix",
        "status",
        "head_request",
        "lines",
        "received",
        "received_bytes",
        "keep_alive",
    )

    def __init__(self, endpoint: EndpointT) -> None:
        self.endpoint = endpoint
        self.transport: Any = None
        self.owner: ResponseOwner | None = None
        self.open = False
        self.requests = 0
        self.idle_since = 0.0
        self._fast_parser = httptools.HttpResponseParser(self)
        self._full_parser: httptools.HttpResponseParser | None = None
        self.parser = self._fast_parser
        self.headers_done = False
        self.complete = False
        self.mode = PASS
        self.prefix = b""
        self.status = 0
        self.head_request = False
        self.lines: list[bytes] = []
        self.received = False
        self.received_bytes = 0
        self.keep_alive = True

    # -- asyncio -----------------------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.open = True
        transport.set_write_buffer_limits(high=64 * 1024)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.endpoint.cluster.connection_closed(self)
        owner = self.owner
        if owner is not None:
            self.owner = None
            owner.upstream_lost(self, str(exc) if exc else "connection termination")

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        if self.owner is not None:
            self.owner.upstream_paused(True)

    def resume_writing(self) -> None:
        if self.owner is not None:
            self.owner.upstream_paused(False)

    def data_received(self, data: bytes) -> None:
        owner = self.owner
        if owner is None:
            self.close()  # bytes on an idle connection: the server is confused or closing
            return
        self.received = True
        self.received_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()
            if self.owner is owner:
                self.owner = None
                owner.upstream_lost(self, "protocol error")
            return
        if self.headers_done:
            if self.mode == PASS:
                if self.prefix:
                    data = self.prefix + data
                    self.prefix = b""
                owner.transport.write(data)
            if self.complete and self.owner is owner:
                self._finish(owner)
        elif self.mode == PASS:
            self.prefix += data
            if len(self.prefix) > MAX_HEAD_BYTES:
                self.close()
                self.owner = None
                owner.upstream_lost(self, "protocol error")

    # -- parser callbacks --------------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200 and status != 101:
            self.lines.clear()
            return  # an interim response (100 Continue…): passed through before the final one
        self.status = status
        self.headers_done = True
        # Asked now: once the message is complete the parser has forgotten its framing.
        self.keep_alive = self.parser.should_keep_alive()
        owner = self.owner
        if owner is not None:
            self.mode = owner.upstream_headers(self, status)
        if self.head_request:
            self.complete = True  # a response to HEAD has no body, whatever its content-length says

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.complete = True

    # -- used by the owner -------------------------------------------------------------------------------

    def begin(self, owner: ResponseOwner, rewrite: bool, head_request: bool) -> None:
        """Serve one request for `owner`; `rewrite`: the owner rebuilds the response head."""
        self.owner = owner
        self.requests += 1
        self.headers_done = False
        self.complete = False
        self.received = False
        self.received_bytes = 0
        self.prefix = b""
        self.status = 0
        self.head_request = head_request
        if rewrite:
            if self._full_parser is None:
                self._full_parser = httptools.HttpResponseParser(_HeaderCallbacks(self))
            self.parser = self._full_parser
            self.mode = REWRITE
            self.lines = []
        else:
            self.parser = self._fast_parser
            self.mode = PASS

    def _finish(self, owner: ResponseOwner) -> None:
        if self.head_request:
            # The parser still expects the body a HEAD response announced; start the next one afresh.
            self._fast_parser = httptools.HttpResponseParser(self)
            self._full_parser = None
            self.parser = self._fast_parser
        owner.upstream_done(self)

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.abort()
