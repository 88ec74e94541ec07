"""Which headers travel on: the full list for details and reviews, productpage's own list and its B3."""

from __future__ import annotations

import pytest

from bookinfo.propagation import FORWARDED_HEADERS, PRODUCTPAGE_FORWARDED_HEADERS, b3_headers, copy_headers
from bookinfo.server import Headers


def test_the_full_list_has_every_tracing_and_session_header() -> None:
    assert len(FORWARDED_HEADERS) == 20
    assert {"end-user", "x-b3-parentspanid", "x-b3-flags", "cookie", "jwt", "sw8"} <= set(FORWARDED_HEADERS)


def test_productpage_copies_neither_end_user_nor_b3() -> None:
    assert "end-user" not in PRODUCTPAGE_FORWARDED_HEADERS
    assert not [name for name in PRODUCTPAGE_FORWARDED_HEADERS if name.startswith("x-b3-")]
    assert len(PRODUCTPAGE_FORWARDED_HEADERS) == 14


def test_copy_is_case_insensitive_and_joins_repeats() -> None:
    incoming = Headers([("X-Request-Id", "r"), ("Cookie", "a=1"), ("cookie", "b=2"), ("X-Other", "o")])
    assert copy_headers(incoming, FORWARDED_HEADERS) == {"x-request-id": "r", "cookie": "a=1; b=2"}


@pytest.mark.parametrize(
    ("incoming", "outgoing"),
    [
        ([("X-B3-TraceId", "a" * 16), ("X-B3-SpanId", "b" * 16)], ("0" * 16 + "a" * 16, "b" * 16, "0")),
        (
            [("x-b3-traceid", "a" * 32), ("x-b3-spanid", "b" * 16), ("x-b3-sampled", "d")],
            ("a" * 32, "b" * 16, "1"),
        ),
        (
            [("x-b3-traceid", "a" * 32), ("x-b3-spanid", "b" * 16), ("x-b3-flags", "1")],
            ("a" * 32, "b" * 16, "1"),
        ),
        ([("b3", f"{'c' * 16}-{'d' * 16}")], ("0" * 16 + "c" * 16, "d" * 16, "1")),  # single header: sampled
        ([("b3", f"{'c' * 32}-{'d' * 16}-0"), ("x-b3-sampled", "1")], ("c" * 32, "d" * 16, "0")),
    ],
)
def test_b3_is_rederived(incoming: list[tuple[str, str]], outgoing: tuple[str, str, str]) -> None:
    trace_id, span_id, sampled = outgoing
    expected = {"x-b3-traceid": trace_id, "x-b3-spanid": span_id, "x-b3-sampled": sampled}
    assert b3_headers(Headers(incoming)) == expected


@pytest.mark.parametrize(
    "incoming",
    [
        [],
        [("x-b3-traceid", "a" * 16)],
        [("x-b3-traceid", "a" * 20), ("x-b3-spanid", "b" * 16)],
        [("x-b3-traceid", "a" * 32), ("x-b3-spanid", "b" * 32)],
        [("x-b3-traceid", "g" * 16), ("x-b3-spanid", "b" * 16)],
        [("b3", "1")],
        [("b3", f"{'c' * 16}-{'d' * 16}-1-{'e' * 16}-extra")],
    ],
)
def test_no_b3_without_a_valid_trace_and_span(incoming: list[tuple[str, str]]) -> None:
    assert b3_headers(Headers(incoming)) == {}
