"""Calls to other services: addresses from the environment, and what comes back from a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bookinfo import upstream
from tests.unit.samples.bookinfo.conftest import StubFactory
from tests.unit.samples.bookinfo.support import PROXY_VARIABLES, Answer


@pytest.fixture(autouse=True)
def no_proxy_from_the_test_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    upstream._opener.cache_clear()
    yield
    upstream._opener.cache_clear()


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://reviews:9080"),
        ({"REVIEWS_HOSTNAME": "reviews-v2", "REVIEWS_SERVICE_PORT": "9090"}, "http://reviews-v2:9090"),
        ({"SERVICES_DOMAIN": "bookinfo.svc.cluster.local"}, "http://reviews.bookinfo.svc.cluster.local:9080"),
        ({"REVIEWS_HOSTNAME": "::1"}, "http://[::1]:9080"),
        ({"DETAILS_HOSTNAME": "elsewhere"}, "http://reviews:9080"),
    ],
)
def test_service_url(env: dict[str, str], url: str) -> None:
    assert upstream.service_url("reviews", env) == url


def test_any_status_comes_back_with_its_body(stub: StubFactory) -> None:
    server = stub(Answer(status=503, body="busy"))
    reply = upstream.get(f"{server.url}/x", {"x-request-id": "r"}, 3.0)
    assert reply == upstream.Reply(503, b"busy")
    assert server.seen[0].headers["x-request-id"] == "r"


def test_no_response_is_none(stub: StubFactory) -> None:
    assert upstream.get(f"{stub(Answer(hang_up=True)).url}/x", {}, 3.0) is None
    assert upstream.get("http://127.0.0.1:1/x", {}, 3.0) is None  # refused
    assert upstream.get("http://bad host/x", {}, 3.0) is None


def test_the_proxy_in_http_proxy_gets_the_call(stub: StubFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = stub(Answer(body="{}"))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert upstream.get("http://ratings:9080/ratings/0", {}, 3.0) == upstream.Reply(200, b"{}")
    assert [(seen.target, seen.headers["host"]) for seen in proxy.seen] == [
        ("http://ratings:9080/ratings/0", "ratings:9080")
    ]
