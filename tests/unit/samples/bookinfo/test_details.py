"""details as a real process: the book body byte for byte, Ruby's Integer() quirks, v2's external lookup."""

from __future__ import annotations

import json

import pytest

from tests.unit.samples.bookinfo.conftest import StubFactory
from tests.unit.samples.bookinfo.support import Answer, Launcher, Service, request

BOOK_0 = (
    '{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,'
    '"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}'
)
NOT_NUMERIC = '{"error":"please provide numeric product id"}'
BOOKS_PATH = "/books/v1/volumes?q=isbn:0486424618"

GOOGLE_BOOKS_ANSWER = {
    "items": [
        {
            "volumeInfo": {
                "authors": ["William Shakespeare"],
                "publishedDate": "2002",
                "printType": "BOOK",
                "pageCount": 80,
                "publisher": "Dover Publications",
                "language": "en",
                "industryIdentifiers": [
                    {"type": "ISBN_13", "identifier": "9780486424613"},
                    {"type": "ISBN_10", "identifier": "0486424618"},
                ],
            }
        }
    ]
}


@pytest.fixture(scope="module")
def details(module_launcher: Launcher) -> Service:
    return module_launcher.start("details")


def test_book_details_are_ruby_compact_json(details: Service) -> None:
    reply = request(f"{details.url}/details/0")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.text == BOOK_0


@pytest.mark.parametrize(
    ("segment", "product_id"),
    [
        ("7", 7),
        ("0x1A", 26),
        ("0b11", 3),
        ("0o17", 15),
        ("010", 8),  # a leading zero means octal
        ("1_0", 10),
        ("-5", -5),
        ("%2012%20", 12),  # surrounding whitespace, percent-encoded
        ("0/", 0),  # a trailing slash is dropped with the empty segment after it
        ("9/12", 12),  # the last segment counts
    ],
)
def test_product_id_is_read_as_ruby_integer_reads_it(details: Service, segment: str, product_id: int) -> None:
    reply = request(f"{details.url}/details/{segment}")
    assert reply.status == 200, reply.text
    assert reply.text == BOOK_0.replace('"id":0', f'"id":{product_id}', 1)


@pytest.mark.parametrize(
    "path", ["/details/abc", "/details/1__0", "/details/08", "/details/0x", "/details/1.5"]
)
def test_non_numeric_product_id_is_400(details: Service, path: str) -> None:
    reply = request(f"{details.url}{path}")
    assert (reply.status, reply.text) == (400, NOT_NUMERIC)


@pytest.mark.parametrize("path", ["/details", "/details/"])
def test_details_without_an_id_reads_the_word_details_and_is_400(details: Service, path: str) -> None:
    reply = request(f"{details.url}{path}")
    assert (reply.status, reply.text) == (400, NOT_NUMERIC)


def test_health(details: Service) -> None:
    reply = request(f"{details.url}/health")
    assert (reply.status, reply.text) == (200, '{"status":"Details is healthy"}')


@pytest.mark.parametrize("path", ["/", "/detailsx/0", "/ratings/0"])
def test_other_paths_are_404(details: Service, path: str) -> None:
    assert request(f"{details.url}{path}").status == 404


def test_v2_looks_the_book_up_through_the_proxy_and_forwards_trace_headers(
    launcher: Launcher, stub: StubFactory
) -> None:
    proxy = stub(Answer(body=json.dumps(GOOGLE_BOOKS_ANSWER)))
    details = launcher.start(
        "details", "--version", "v2", env={"HTTP_PROXY": proxy.url, "DO_NOT_ENCRYPT": "true"}
    )
    incoming = {"x-request-id": "req-1", "x-b3-traceid": "a" * 16, "end-user": "jason", "x-unrelated": "no"}
    reply = request(f"{details.url}/details/3", headers=incoming)
    assert reply.status == 200, reply.text
    assert reply.text == (
        '{"id":3,"author":"William Shakespeare","year":"2002","type":"paperback","pages":80,'
        '"publisher":"Dover Publications","language":"English",'
        '"ISBN-10":"0486424618","ISBN-13":"9780486424613"}'
    )
    [seen] = proxy.seen
    assert seen.target == f"http://www.googleapis.com{BOOKS_PATH}"  # absolute form: sent to a proxy
    assert seen.headers["host"] == "www.googleapis.com"
    assert {name: seen.headers.get(name) for name in incoming} == {
        "x-request-id": "req-1",
        "x-b3-traceid": "a" * 16,
        "end-user": "jason",
        "x-unrelated": None,
    }


def test_v2_with_istio_sends_plain_http_to_port_443(launcher: Launcher, stub: StubFactory) -> None:
    proxy = stub(Answer(body=json.dumps(GOOGLE_BOOKS_ANSWER)))
    details = launcher.start(
        "details", "--version", "v2", env={"HTTP_PROXY": proxy.url, "WITH_ISTIO": "true"}
    )
    assert request(f"{details.url}/details/0").status == 200
    assert [seen.target for seen in proxy.seen] == [f"http://www.googleapis.com:443{BOOKS_PATH}"]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(body="{}"), "www.googleapis.com returned no book details for ISBN 0486424618"),
        (Answer(status=503, body="down"), "www.googleapis.com answered 503 with a body that is not JSON"),
        (Answer(hang_up=True), "no response from www.googleapis.com"),
    ],
)
def test_v2_lookup_failure_is_400_with_the_reason(
    launcher: Launcher, stub: StubFactory, answer: Answer, error: str
) -> None:
    proxy = stub(answer)
    env = {"HTTP_PROXY": proxy.url, "ENABLE_EXTERNAL_BOOK_SERVICE": "true", "DO_NOT_ENCRYPT": "true"}
    details = launcher.start("details", env=env)
    reply = request(f"{details.url}/details/0")
    assert (reply.status, reply.json()) == (400, {"error": error})
