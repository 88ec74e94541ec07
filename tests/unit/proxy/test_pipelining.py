"""Pipelining on its own: a request parsed while another is served is captured, then replayed as the current
one; and, through a connection, pipelined requests are answered in order."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import httptools

from mesh_runtime.proxy.pipelining import (
    HEAD_FIELDS,
    ParsedFacts,
    PipelinedRequest,
    queue_pipelined,
    replay_pipelined,
)

from .harness import OK_RESPONSE, make_harness, response, sidecar_config


class Connection:
    """The fields pipelining keeps and restores, with the callbacks it replays into (recorded)."""

    def __init__(self) -> None:
        self.parser: Any = None
        self.queue: deque[PipelinedRequest] | None = None
        self.replaying = False
        self.url = b""
        self.lines: list[bytes] = []
        self.host = b""
        self.host_index = 0
        self.has_request_id = False
        self.has_forwarded_proto = False
        self.forwarded_for = -1
        self.has_body = False
        self.request_chunked = False
        self.expect_continue = False
        self.trace_headers = None
        self.request_id = b""
        self.events: list[tuple[object, ...]] = []

    def dispatch(self) -> None:
        parser = self.parser
        self.events.append(
            (
                "dispatch",
                self.url,
                parser.get_method(),
                parser.should_keep_alive(),
                parser.get_http_version(),
                self.replaying,
                self.queue,
            )
        )

    def on_body(self, body: bytes) -> None:
        self.events.append(("body", body))

    def on_message_complete(self) -> None:
        self.events.append(("complete",))


class _Head:
    def on_headers_complete(self) -> None:
        pass


def parsed(data: bytes) -> httptools.HttpRequestParser:
    parser = httptools.HttpRequestParser(_Head())
    parser.feed_data(data)
    return parser


def test_a_queued_request_keeps_its_head_and_the_parsers_facts() -> None:
    connection = Connection()
    connection.parser = parsed(b"POST /next HTTP/1.0\r\nContent-Length: 3\r\n\r\n")
    connection.url, connection.lines, connection.host = b"/next", [b"", b"A: b\r\n"], b"h"
    connection.has_body = True
    queue_pipelined(connection)
    assert connection.queue is not None and len(connection.queue) == 1
    queued = connection.queue[0]
    head, method, keep_alive, version = queued.state
    assert dict(zip(HEAD_FIELDS, head, strict=True)) == {
        "url": b"/next",
        "lines": [b"", b"A: b\r\n"],
        "host": b"h",
        "host_index": 0,
        "has_request_id": False,
        "has_forwarded_proto": False,
        "forwarded_for": -1,
        "has_body": True,
        "request_chunked": False,
        "expect_continue": False,
        "trace_headers": None,
        "request_id": b"",
    }
    assert (method, keep_alive, version) == (b"POST", False, "1.0")  # HTTP/1.0 without keep-alive
    assert queued.body == [] and not queued.complete


def test_replaying_restores_the_request_dispatches_it_with_its_facts_and_feeds_its_body() -> None:
    connection = Connection()
    connection.parser = parsed(b"PUT /later HTTP/1.1\r\nHost: x\r\n\r\n")
    connection.url, connection.host_index, connection.expect_continue = b"/later", 3, True
    queue_pipelined(connection)
    assert connection.queue is not None
    connection.queue[0].body += [b"ab", b"c"]
    connection.queue[0].complete = True
    real_parser = object()
    connection.parser = real_parser
    connection.url, connection.host_index, connection.expect_continue = b"/current", 0, False

    replay_pipelined(connection)

    dispatched = connection.events[0]
    # Dispatched as the current request: the parser stood in for, no queue while it replays.
    assert dispatched == ("dispatch", b"/later", b"PUT", True, "1.1", True, None)
    assert connection.events[1:] == [("body", b"ab"), ("body", b"c"), ("complete",)]
    assert connection.host_index == 3 and connection.expect_continue
    assert connection.parser is real_parser and not connection.replaying
    assert connection.queue is not None and not connection.queue  # the (now empty) queue is back


def test_parsed_facts_answer_as_the_parser_did() -> None:
    facts = ParsedFacts(b"DELETE", False, "1.0")
    assert (facts.get_method(), facts.should_keep_alive(), facts.get_http_version()) == (
        b"DELETE",
        False,
        "1.0",
    )


def test_pipelined_requests_are_answered_in_order_on_one_connection(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(
        b"GET /one HTTP/1.1\r\nHost: reviews:9080\r\n\r\n"
        b"POST /two HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: 4\r\n\r\nbody"
    )
    assert client.queue is not None and len(client.queue) == 1 and client.queue[0].complete
    assert not transport.reading  # paused while a request waits
    first = upstream.transport.take()
    assert first.startswith(b"GET /one HTTP/1.1\r\n") and b"/two" not in first
    upstream.respond(OK_RESPONSE)
    assert transport.take() == OK_RESPONSE
    second = upstream.transport.take()
    assert second.startswith(b"POST /two HTTP/1.1\r\n") and second.endswith(b"\r\n\r\nbody")
    upstream.respond(response(201))
    assert transport.take().startswith(b"HTTP/1.1 201")
    assert transport.reading and not client.queue
    assert harness.runtime.stats.downstream_rq_by_code[200] == 1
    assert harness.runtime.stats.downstream_rq_by_code[201] == 1
