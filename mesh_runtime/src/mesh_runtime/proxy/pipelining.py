"""HTTP/1.1 pipelining: requests a client sends before the current one is answered.

The parser runs ahead of the exchange: a head parsed while a request is being served is captured, with the
facts only the parser knew (method, keep-alive, version), in a `PipelinedRequest` with its body pieces; when
the exchange ends, the connection replays it as if it were being parsed now. That is rare traffic and a
separate concern from the state machine of one exchange, which only asks whether a queue exists.
"""

from __future__ import annotations

from collections import deque
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

from .request_head import HEAD_FIELDS

if TYPE_CHECKING:
    import httptools


_parsed_head = attrgetter(*HEAD_FIELDS)


class PipelinedRequest:
    """A request parsed while the previous one is still being served."""

    __slots__ = ("state", "body", "complete")

    def __init__(self, state: tuple[Any, ...]) -> None:
        self.state = state
        self.body: list[bytes] = []
        self.complete = False


class ParsedFacts:
    """Stands in for the parser when a queued request is dispatched later."""

    __slots__ = ("_method", "_keep_alive", "_version")

    def __init__(self, method: bytes, keep_alive: bool, version: str) -> None:
        self._method = method
        self._keep_alive = keep_alive
        self._version = version

    def get_method(self) -> bytes:
        return self._method

    def should_keep_alive(self) -> bool:
        return self._keep_alive

    def get_http_version(self) -> str:
        return self._version


class PipeliningConnection(Protocol):
    """The downstream connection, as far as queueing and replaying a request goes."""

    parser: httptools.HttpRequestParser
    queue: deque[PipelinedRequest] | None
    replaying: bool
    url: bytes
    lines: list[bytes]
    host: bytes
    host_index: int
    has_request_id: bool
    has_forwarded_proto: bool
    forwarded_for: int
    has_body: bool
    request_chunked: bool
    expect_continue: bool

    def dispatch(self) -> None: ...

    def on_body(self, body: bytes) -> None: ...

    def on_message_complete(self) -> None: ...


def queue_pipelined(connection: PipeliningConnection) -> None:
    """The head just parsed belongs to a request that must wait: keep what was parsed of it."""
    parser = connection.parser
    state = (
        _parsed_head(connection),
        parser.get_method(),
        parser.should_keep_alive(),
        parser.get_http_version(),
    )
    if connection.queue is None:
        connection.queue = deque()
    connection.queue.append(PipelinedRequest(state))


def replay_pipelined(connection: PipeliningConnection) -> None:
    """Make the first queued request the current one: dispatch it, then feed it the body parsed so far."""
    assert connection.queue
    request = connection.queue.popleft()
    head, method, keep_alive, version = request.state
    for name, value in zip(HEAD_FIELDS, head, strict=True):
        setattr(connection, name, value)
    # While its parsed body is replayed this request is the current one: the body callbacks must not
    # take the queue's last entry for it, and an exchange that ends meanwhile starts nothing.
    queue, connection.queue = connection.queue, None
    connection.replaying = True
    try:
        dispatch_parsed(connection, method, keep_alive, version)
        for piece in request.body:
            connection.on_body(piece)
        if request.complete:
            connection.on_message_complete()
    finally:
        connection.replaying = False
        connection.queue = queue


def dispatch_parsed(connection: PipeliningConnection, method: bytes, keep_alive: bool, version: str) -> None:
    """Dispatch a queued request with the parser facts recorded when it was parsed."""
    saved = connection.parser
    connection.parser = ParsedFacts(method, keep_alive, version)  # type: ignore[assignment]
    try:
        connection.dispatch()
    finally:
        connection.parser = saved
