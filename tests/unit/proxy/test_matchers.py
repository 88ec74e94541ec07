from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mesh_runtime import xds
from mesh_runtime.proxy.matchers import MatchCompileError, compile_route_match, compile_string_match


@dataclass
class Request:
    path: bytes = b"/"
    method: bytes = b"GET"
    authority: bytes = b"reviews:9080"
    scheme: bytes = b"http"
    port: int = 9080
    headers: dict[bytes, bytes] = field(default_factory=dict)

    def path_only(self) -> bytes:
        return self.path.split(b"?", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        return self.headers.get(name)

    def query_param(self, name: str) -> str | None:
        query = self.path.partition(b"?")[2].decode()
        pairs = dict(part.partition("=")[::2] for part in query.split("&") if part)
        return pairs.get(name)


def matches(match: xds.RouteMatch, request: Request, labels: dict[str, str] | None = None) -> bool:
    compiled = compile_route_match(match, "test", labels or {}, "default")
    return compiled is not None and compiled(request)


@pytest.mark.parametrize(
    ("kind", "value", "candidate", "ignore_case", "expected"),
    [
        ("exact", "/a", b"/a", False, True),
        ("exact", "/a", b"/A", False, False),
        ("exact", "/a", b"/A", True, True),
        ("prefix", "/api", b"/api/v1", False, True),
        ("prefix", "/api", b"/ap", False, False),
        ("regex", "/v[0-9]+", b"/v12", False, True),
        ("regex", "/v[0-9]+", b"/v12/x", False, False),  # a full match, as RE2 in Envoy
        ("regex", "/V1", b"/v1", True, True),
        ("present", "", b"anything", False, True),
    ],
)
def test_string_match(kind: str, value: str, candidate: bytes, ignore_case: bool, expected: bool) -> None:
    predicate = compile_string_match(xds.StringMatch(kind, value, ignore_case), "t")  # type: ignore[arg-type]
    assert predicate(candidate) is expected


def test_bad_regex_names_the_field() -> None:
    with pytest.raises(MatchCompileError, match=r"where: regex '\(' is not valid RE2"):
        compile_string_match(xds.StringMatch("regex", "("), "where")


def test_prefix_sees_the_query_and_exact_does_not() -> None:
    request = Request(path=b"/productpage?u=normal")
    assert matches(xds.RouteMatch(uri=xds.StringMatch("exact", "/productpage")), request)
    assert matches(xds.RouteMatch(uri=xds.StringMatch("prefix", "/productpage?u")), request)
    assert not matches(xds.RouteMatch(uri=xds.StringMatch("exact", "/productpage?u=normal")), request)


def test_headers_method_port_and_query() -> None:
    jason = Request(headers={b"end-user": b"jason"}, path=b"/r?debug=1")
    match = xds.RouteMatch(
        headers=(xds.HeaderMatch("end-user", xds.StringMatch("exact", "jason")),),
        method=xds.StringMatch("exact", "GET"),
        port=9080,
        query_params=(xds.HeaderMatch("debug", xds.StringMatch("exact", "1")),),
    )
    assert matches(match, jason)
    assert not matches(match, Request(headers={b"end-user": b"bob"}, path=b"/r?debug=1"))
    assert not matches(match, Request(headers={b"end-user": b"jason"}, path=b"/r?debug=1", port=80))
    assert not matches(match, Request(headers={b"end-user": b"jason"}, path=b"/r"))


def test_without_headers_matches_absent_or_different() -> None:
    match = xds.RouteMatch(
        headers=(xds.HeaderMatch("end-user", xds.StringMatch("exact", "jason"), invert=True),)
    )
    assert matches(match, Request())
    assert matches(match, Request(headers={b"end-user": b"bob"}))
    assert not matches(match, Request(headers={b"end-user": b"jason"}))


def test_source_labels_are_decided_when_compiling() -> None:
    match = xds.RouteMatch(source_labels={"app": "reviews", "version": "v2"})
    assert compile_route_match(match, "t", {"app": "reviews", "version": "v1"}, "default") is None
    assert matches(match, Request(), {"app": "reviews", "version": "v2"})
    other_namespace = xds.RouteMatch(source_namespace="prod")
    assert compile_route_match(other_namespace, "t", {}, "default") is None
