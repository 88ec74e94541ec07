"""The benchmark's application: one response per whole request head, pipelined ones included."""

from __future__ import annotations

from bench.app import RESPONSE, complete_requests
from bench.baselines import BODY


def test_whole_request_heads_are_counted_and_consumed() -> None:
    buffer = bytearray(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HT")
    assert complete_requests(buffer) == 2
    assert bytes(buffer) == b"GET /3 HT"
    buffer += b"TP/1.1\r\n\r\n"
    assert complete_requests(buffer) == 1 and not buffer


def test_the_response_carries_the_details_body_with_its_length() -> None:
    head, _, body = RESPONSE.partition(b"\r\n\r\n")
    assert body == BODY and len(BODY) == 128
    assert f"Content-Length: {len(BODY)}".encode() in head
