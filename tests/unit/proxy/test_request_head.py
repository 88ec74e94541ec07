"""The request head on its own: header classification, the head callbacks over a real parser, and the head
completed for upstream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace

import httptools
import pytest

from mesh_runtime import xds
from mesh_runtime.proxy import request_head
from mesh_runtime.proxy.config import ListenerConfig, ListenerConfigRef
from mesh_runtime.proxy.request_head import (
    CONTENT_LENGTH,
    FORWARDED_CLIENT_CERT,
    HOP_BY_HOP,
    HOST,
    PEER_METADATA,
    TE,
    RequestHead,
    absolute_form,
    append_forwarded_for,
    classify,
    finish_head,
    note_special_header,
    split_absolute_form,
)
from mesh_runtime.proxy.router import CompiledRoute
from mesh_runtime.proxy.telemetry import PEER_HEADER

from .harness import make_harness, sidecar_config


def listener_ref(direction: str = "outbound") -> ListenerConfigRef:
    return ListenerConfigRef(ListenerConfig(xds.Listener("l", direction, "127.0.0.1", 15001, app_port=9080)))  # type: ignore[arg-type]


class ParsedHead(RequestHead):
    """A RequestHead with the few connection fields its callbacks read."""

    __slots__ = ("closed", "clock", "client_cert_line", "listener_ref")

    def __init__(self, direction: str = "outbound", client_cert_line: bytes = b"") -> None:
        super().__init__()
        self.closed = False
        self.clock: Callable[[], float] = lambda: 12.5
        self.client_cert_line = client_cert_line
        self.listener_ref = listener_ref(direction)


def parse(data: bytes, head: ParsedHead | None = None) -> ParsedHead:
    head = head or ParsedHead()
    httptools.HttpRequestParser(head).feed_data(data)
    return head


def test_special_names_are_classified_whatever_their_case_and_remembered_as_spelled() -> None:
    assert classify(b"Content-LENGTH") == CONTENT_LENGTH
    assert request_head.KNOWN_NAMES[b"Content-LENGTH"] == CONTENT_LENGTH
    assert classify(b"Proxy-Connection") == HOP_BY_HOP
    assert classify(PEER_HEADER.upper()) == PEER_METADATA
    assert classify(b"X-Unrelated") == 0
    assert request_head.KNOWN_NAMES[b"X-Unrelated"] == 0


def test_known_names_stop_growing_at_their_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(request_head, "KNOWN_NAMES", {})
    monkeypatch.setattr(request_head, "KNOWN_NAMES_LIMIT", 2)
    for name in (b"a", b"b", b"Host"):
        classify(name)
    assert request_head.KNOWN_NAMES == {b"a": 0, b"b": 0}
    assert classify(b"Host") == HOST  # still classified, just not remembered


def test_parsed_head_notes_what_the_proxy_acts_on_and_keeps_the_rest() -> None:
    head = parse(
        b"POST /cart?id=1 HTTP/1.1\r\nHost: shop:80\r\nhost: second\r\nConnection: keep-alive\r\n"
        b"Upgrade: h2c\r\nTE: trailers\r\nX-Request-Id: r1\r\nTransfer-Encoding: chunked\r\n"
        b"X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: https\r\nUser-Agent: t\r\n\r\n"
    )
    assert head.url == b"/cart?id=1"
    assert head.started == 12.5
    assert head.host == b"shop:80" and head.lines[head.host_index] == b"Host: shop:80\r\n"
    assert head.saw_connection  # connection and upgrade: noted, not forwarded
    assert head.has_request_id and head.has_forwarded_proto
    assert head.has_body and head.request_chunked
    assert head.lines[head.forwarded_for] == b"X-Forwarded-For: 10.0.0.9\r\n"
    assert head.lines == [
        b"",
        b"Host: shop:80\r\n",
        b"host: second\r\n",
        b"TE: trailers\r\n",
        b"X-Request-Id: r1\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"X-Forwarded-For: 10.0.0.9\r\n",
        b"X-Forwarded-Proto: https\r\n",
        b"User-Agent: t\r\n",
    ]


def test_te_other_than_trailers_expect_continue_and_peer_metadata_are_not_forwarded() -> None:
    head = parse(
        b"PUT / HTTP/1.1\r\nHost: a\r\nTE: gzip\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
        + PEER_HEADER
        + b": caller\r\n\r\n"
    )
    assert head.expect_continue and head.has_body and not head.request_chunked
    assert head.peer_metadata == b"caller"
    assert head.lines == [b"", b"Host: a\r\n", b"Content-Length: 3\r\n"]


def test_a_zero_content_length_is_no_body() -> None:
    assert not parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").has_body


def test_a_new_message_resets_the_head() -> None:
    head = parse(b"GET /one HTTP/1.1\r\nHost: a\r\nX-Request-Id: r\r\n\r\nGET /two HTTP/1.1\r\n\r\n")
    assert head.url == b"/two" and head.host == b"" and not head.has_request_id
    assert head.lines == [b""]


def test_a_closed_connection_rejects_the_next_message() -> None:
    head = ParsedHead()
    head.closed = True
    with pytest.raises(httptools.HttpParserError) as raised:
        parse(b"GET / HTTP/1.1\r\n\r\n", head)
    assert isinstance(raised.value.__context__, request_head.RejectedRequest)


@pytest.mark.parametrize(
    ("direction", "cert_line", "dropped"),
    [
        ("inbound", b"", True),
        ("outbound", b"", False),
        ("outbound", b"x-forwarded-client-cert: me\r\n", True),
    ],
)
def test_a_client_xfcc_is_replaced_inbound_and_when_the_proxy_sets_one(
    direction: str, cert_line: bytes, dropped: bool
) -> None:
    head = ParsedHead(direction, cert_line)
    assert note_special_header(head, FORWARDED_CLIENT_CERT, b"x-forwarded-client-cert", b"By=x") is dropped


def test_te_trailers_is_kept() -> None:
    head = ParsedHead()
    assert note_special_header(head, TE, b"te", b" Trailers ") is False
    assert note_special_header(head, TE, b"te", b"deflate") is True


def test_absolute_form_splits_authority_and_path() -> None:
    assert split_absolute_form(b"http://reviews:9080/r/0?x=1") == (b"reviews:9080", b"/r/0?x=1")
    assert split_absolute_form(b"https://reviews") == (b"reviews", b"/")
    assert split_absolute_form(b"http://reviews?x=1") == (b"reviews", b"/?x=1")


def test_absolute_form_sets_or_replaces_the_host_line() -> None:
    request = SimpleNamespace(authority=b"", path=b"", lines=[b"", b"Host: old\r\n"], host_index=1)
    absolute_form(request, b"http://new:81/p")  # type: ignore[arg-type]
    assert (request.authority, request.path) == (b"new:81", b"/p")
    assert request.lines == [b"", b"host: new:81\r\n"]
    request = SimpleNamespace(authority=b"", path=b"", lines=[b"", b"A: b\r\n"], host_index=0)
    absolute_form(request, b"http://new/")  # type: ignore[arg-type]
    assert request.lines == [b"", b"A: b\r\n", b"host: new\r\n"] and request.host_index == 2


def test_forwarded_for_is_appended_to_or_added() -> None:
    lines = [b"", b"x-forwarded-for: 1.1.1.1\r\n"]
    append_forwarded_for(lines, 1, b"2.2.2.2")
    assert lines[1] == b"x-forwarded-for: 1.1.1.1, 2.2.2.2\r\n"
    lines = [b""]
    append_forwarded_for(lines, -1, b"2.2.2.2")
    assert lines == [b"", b"x-forwarded-for: 2.2.2.2\r\n"]


def test_finish_head_adds_the_proxys_lines_and_ends_the_head(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    listener = harness.ref.current
    route = CompiledRoute()
    route.extra_headers = b"x-envoy-expected-rq-timeout-ms: 500\r\n"
    request = SimpleNamespace(
        runtime=harness.runtime,
        method=b"GET",
        path=b"/r",
        scheme=b"https",
        lines=[b"", b"Host: reviews\r\n"],
        has_request_id=False,
        has_forwarded_proto=False,
        client_cert_line=b"",
        forwarded_for=-1,
        peer_address=b"10.1.1.1",
        peer_index=0,
    )
    finish_head(request, listener, route)  # type: ignore[arg-type]
    lines = request.lines
    assert lines[0] == b"GET /r HTTP/1.1\r\n"
    assert lines[2].startswith(b"x-request-id: ")
    assert lines[3] == b"x-forwarded-proto: https\r\n"
    assert lines[4] == route.extra_headers
    assert request.peer_index == 5 and lines[5] == listener.peer_line  # an outbound listener's peer line
    assert lines[-1] == b"\r\n" and len(lines) == 7
