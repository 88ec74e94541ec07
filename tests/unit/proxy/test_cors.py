"""A route's CORS policy compiled once: the origin predicate and the lines Envoy's CORS filter sends."""

from __future__ import annotations

import pytest

from mesh_runtime import xds
from mesh_runtime.proxy.cors import compile_cors
from mesh_runtime.proxy.matchers import MatchCompileError


def policy(*origins: xds.StringMatch, **changes: object) -> xds.CorsPolicy:
    return xds.CorsPolicy(allow_origins=origins, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("match", "allowed", "refused"),
    [
        (xds.StringMatch("exact", "https://a.example"), b"https://a.example", b"https://a.example.evil"),
        (xds.StringMatch("prefix", "https://a."), b"https://a.example", b"http://a.example"),
        (xds.StringMatch("regex", r"https://[a-z]+\.example"), b"https://b.example", b"https://b.example:8"),
    ],
)
def test_origins_match_as_istio_string_matches(
    match: xds.StringMatch, allowed: bytes, refused: bytes
) -> None:
    cors = compile_cors(policy(match), "r")
    assert cors.origin_allowed(allowed)
    assert not cors.origin_allowed(refused)


def test_any_of_several_origins_is_allowed() -> None:
    cors = compile_cors(
        policy(xds.StringMatch("exact", "https://a.example"), xds.StringMatch("exact", "https://b.example")),
        "r",
    )
    assert cors.origin_allowed(b"https://b.example")
    assert not cors.origin_allowed(b"https://c.example")


@pytest.mark.parametrize(
    "match", [xds.StringMatch("exact", "*"), xds.StringMatch("regex", ".*"), xds.StringMatch("prefix", "")]
)
def test_a_matcher_that_accepts_star_allows_every_origin(match: xds.StringMatch) -> None:
    assert compile_cors(policy(match), "r").origin_allowed(b"https://anything.example")


def test_no_origins_allow_nothing() -> None:
    assert not compile_cors(policy(), "r").origin_allowed(b"https://a.example")


def test_a_bad_origin_regex_names_the_field() -> None:
    with pytest.raises(MatchCompileError, match=r"routes\[0\]\.cors\.allow_origins\[1\]: regex"):
        compile_cors(
            policy(xds.StringMatch("exact", "a"), xds.StringMatch("regex", "(?=x)")), "routes[0].cors"
        )


def test_preflight_headers_in_envoys_order() -> None:
    cors = compile_cors(
        policy(
            xds.StringMatch("exact", "https://a.example"),
            allow_methods=("GET", "POST"),
            allow_headers=("content-type", "x-token"),
            expose_headers=("x-served-by",),
            max_age=86400.9,
            allow_credentials=True,
        ),
        "r",
    )
    assert cors.preflight_headers(b"https://a.example", b"PUT", b"x-other") == (
        b"access-control-allow-origin: https://a.example\r\n"
        b"access-control-allow-credentials: true\r\n"
        b"access-control-allow-methods: GET,POST\r\n"
        b"access-control-allow-headers: content-type,x-token\r\n"
        b"access-control-max-age: 86400\r\n"
    )


def test_preflight_without_an_allowed_origin_or_optional_fields() -> None:
    cors = compile_cors(policy(xds.StringMatch("exact", "https://a.example")), "r")
    assert cors.preflight_headers(None, b"GET", b"") == b""
    assert cors.preflight_headers(b"https://a.example", b"GET", b"") == (
        b"access-control-allow-origin: https://a.example\r\n"
    )


def test_a_star_alone_echoes_what_the_preflight_asks_for() -> None:
    cors = compile_cors(
        policy(xds.StringMatch("exact", "o"), allow_methods=("*",), allow_headers=("*",)),
        "r",
    )
    assert cors.preflight_headers(b"o", b"DELETE", b"x-a,x-b") == (
        b"access-control-allow-origin: o\r\n"
        b"access-control-allow-methods: DELETE\r\n"
        b"access-control-allow-headers: x-a,x-b\r\n"
    )


def test_unmatched_preflights_are_forwarded_unless_ignored() -> None:
    forward = compile_cors(policy(xds.StringMatch("exact", "o")), "r")
    ignore = compile_cors(policy(xds.StringMatch("exact", "o"), unmatched_preflights="IGNORE"), "r")
    assert forward.answers_preflight(True) and not forward.answers_preflight(False)
    assert ignore.answers_preflight(True) and ignore.answers_preflight(False)


def test_response_lines_and_the_headers_they_replace() -> None:
    full = compile_cors(
        policy(xds.StringMatch("exact", "o"), expose_headers=("x-a", "x-b"), allow_credentials=True), "r"
    )
    assert full.response_lines(b"o") == (
        b"access-control-allow-origin: o\r\n"
        b"access-control-allow-credentials: true\r\n"
        b"access-control-expose-headers: x-a,x-b\r\n"
    )
    assert full.response_drop == {
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-expose-headers",
    }
    bare = compile_cors(policy(xds.StringMatch("exact", "o"), allow_credentials=False), "r")
    assert bare.response_lines(b"o") == b"access-control-allow-origin: o\r\n"
    assert bare.response_drop == {b"access-control-allow-origin"}
