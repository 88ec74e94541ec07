"""productpage as a real process: in front of the real services, and in front of stand-ins that fail.

What Istio's tasks rely on is pinned here: the API bodies, the 3 s timeout and the second call to reviews,
end-user only from the session, B3 re-derived, the proxy in HTTP_PROXY used for every call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from bookinfo.productpage import PRODUCTS
from tests.unit.samples.bookinfo.conftest import StubFactory
from tests.unit.samples.bookinfo.support import (
    Answer,
    Launcher,
    Reply,
    Seen,
    Service,
    Stub,
    in_turn,
    request,
    upstream_env,
)

DETAILS_ERROR = "Sorry, product details are currently unavailable for this book."
REVIEWS_ERROR = "Sorry, product reviews are currently unavailable for this book."
RATINGS_ERROR = "Sorry, product ratings are currently unavailable for this book."
REVIEWS_PODNAME = "reviews-v2-pp"
REVIEWS_BODY = json.dumps(
    {"id": "0", "podname": "stub", "clustername": "null", "reviews": [{"reviewer": "R", "text": "Good."}]}
)
REVIEWS_SLOWER_THAN_PRODUCTPAGE_WAITS = 3.5  # productpage waits 3 s


# -- productpage in front of the real services


@pytest.fixture(scope="module")
def stack(module_launcher: Launcher) -> Service:
    ratings = module_launcher.start("ratings")
    details = module_launcher.start("details")
    reviews = module_launcher.start(
        "reviews", "--version", "v2", env={"HOSTNAME": REVIEWS_PODNAME, **upstream_env(ratings=ratings)}
    )
    return module_launcher.start(
        "productpage", env=upstream_env(details=details, reviews=reviews, ratings=ratings)
    )


def test_the_page_shows_details_and_black_stars(stack: Service) -> None:
    reply = request(f"{stack.url}/productpage")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    page = reply.text
    assert "<title>Simple Bookstore App</title>" in page
    assert "<h1>The Comedy of Errors</h1>" in page
    assert "<dt>Publisher:</dt><dd>PublisherA</dd>" in page
    assert "<dt>ISBN-13:</dt><dd>123-1234567890</dd>" in page
    assert _stars(page) == [("black", "\u2605" * 5), ("black", "\u2605" * 4 + "\u2606")]
    assert f"Reviews served by: {REVIEWS_PODNAME}" in page
    assert 'name="username"' in page  # not signed in
    assert "Sorry" not in page


def test_products_api(stack: Service) -> None:
    reply = request(f"{stack.url}/api/v1/products")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.text.startswith(
        '[{"id": 0, "title": "The Comedy of Errors", "descriptionHtml": "<a href=\\"https:'
    )
    assert reply.json() == list(PRODUCTS)


def test_product_api_reserialises_details_with_spaces(stack: Service) -> None:
    reply = request(f"{stack.url}/api/v1/products/0")
    assert (reply.status, reply.text) == (
        200,
        '{"id": 0, "author": "William Shakespeare", "year": 1595, "type": "paperback", "pages": 200, '
        '"publisher": "PublisherA", "language": "English", '
        '"ISBN-10": "1234567890", "ISBN-13": "123-1234567890"}',
    )


def test_reviews_api_reserialises_reviews_with_spaces(stack: Service) -> None:
    reply = request(f"{stack.url}/api/v1/products/0/reviews")
    assert reply.status == 200
    assert reply.text.startswith(
        f'{{"id": "0", "podname": "{REVIEWS_PODNAME}", "clustername": "null", "reviews": [{{"reviewer": '
        '"Reviewer1", "text": "An extremely entertaining play by Shakespeare. The slapstick humour is '
        'refreshing!", "rating": {"stars": 5, "color": "black"}}, {"reviewer": "Reviewer2", '
    )


def test_ratings_api(stack: Service) -> None:
    reply = request(f"{stack.url}/api/v1/products/0/ratings")
    assert (reply.status, reply.text) == (200, '{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}')


def test_the_product_id_goes_to_details_unparsed(stack: Service) -> None:
    assert request(f"{stack.url}/api/v1/products/0x1A").json() == {**_details(26)}
    reply = request(f"{stack.url}/api/v1/products/abc")
    assert (reply.status, reply.text) == (400, f'{{"error": "{DETAILS_ERROR}"}}')


def test_health(stack: Service) -> None:
    reply = request(f"{stack.url}/health")
    assert (reply.status, reply.text) == (200, "Product page is healthy")


def test_sign_in_and_out(stack: Service) -> None:
    referer = "http://bookinfo.example/productpage?u=normal"
    signed_in = request(
        f"{stack.url}/login",
        "POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": referer},
        body="username=jason&passwd=x",
    )
    assert signed_in.status == 302
    assert signed_in.headers["Location"] == referer
    cookie = _session_cookie(signed_in)
    page = request(f"{stack.url}/productpage", headers={"Cookie": cookie}).text
    assert "Signed in as <b>jason</b>" in page
    signed_out = request(f"{stack.url}/logout", headers={"Cookie": cookie, "Referer": referer})
    assert signed_out.status == 302
    assert signed_out.headers["Set-Cookie"].startswith("session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT;")


def test_a_forged_session_is_no_session(stack: Service) -> None:
    page = request(f"{stack.url}/productpage", headers={"Cookie": "session=eyJ1c2VyIjoiamFzb24ifQ.AAAA"}).text
    assert "Signed in as" not in page


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/login", 405),
        ("POST", "/productpage", 405),
        ("GET", "/nothing", 404),
        ("GET", "/api/v1/products/", 404),
        ("GET", "/static/../secret", 404),
        ("GET", "/static/missing.css", 404),
    ],
)
def test_unknown_routes_and_methods(stack: Service, method: str, path: str, status: int) -> None:
    assert request(f"{stack.url}{path}", method).status == status


def test_static_stylesheet_and_index(stack: Service) -> None:
    css = request(f"{stack.url}/static/bookinfo.css")
    assert (css.status, css.headers["Content-Type"]) == (200, "text/css; charset=utf-8")
    index = request(f"{stack.url}/index.html")
    assert index.status == 200 and "<td>reviews</td>" in index.text


def test_metrics_count_results_by_destination(stack: Service) -> None:
    request(f"{stack.url}/api/v1/products/abc")
    metrics = request(f"{stack.url}/metrics").text
    assert "# TYPE request_result_total counter" in metrics
    assert re.search(r'request_result_total\{destination_app="details",response_code="400"\} [1-9]', metrics)


# -- productpage in front of stand-ins


@pytest.fixture(scope="module")
def fakes(module_stub: StubFactory) -> dict[str, Stub]:
    return {name: module_stub() for name in ("details", "reviews", "ratings")}


@pytest.fixture(scope="module")
def page_of_fakes(module_launcher: Launcher, fakes: dict[str, Stub]) -> Service:
    return module_launcher.start("productpage", env=upstream_env(**fakes))


@pytest.fixture
def upstreams(fakes: dict[str, Stub]) -> Iterator[dict[str, Stub]]:
    """The stand-ins, answering successfully until a test says otherwise."""
    fakes["details"].answer(Answer(body=json.dumps(_details(0))))
    fakes["reviews"].answer(Answer(body=REVIEWS_BODY))
    fakes["ratings"].answer(Answer(body='{"id":0,"ratings":{}}'))
    yield fakes


@pytest.mark.parametrize(
    ("answer", "status"), [(Answer(status=503, body="x"), 503), (Answer(hang_up=True), 500)]
)
def test_details_failure(
    page_of_fakes: Service, upstreams: dict[str, Stub], answer: Answer, status: int
) -> None:
    upstreams["details"].answer(answer)
    reply = request(f"{page_of_fakes.url}/api/v1/products/0")
    assert (reply.status, reply.text) == (status, f'{{"error": "{DETAILS_ERROR}"}}')
    page = request(f"{page_of_fakes.url}/productpage").text
    assert f'<h2>Error fetching product details!</h2>\n<p class="error">{DETAILS_ERROR}</p>' in page
    assert len(upstreams["details"].seen) == 2  # one call each, no retry


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (Answer(status=503, body='{"error":"Service unavailable"}'), 503),
        (Answer(status=404, body="no"), 404),
        (Answer(hang_up=True), 500),
        (Answer(body="not json"), 500),
    ],
)
def test_reviews_is_called_twice_then_reported_unavailable(
    page_of_fakes: Service, upstreams: dict[str, Stub], answer: Answer, status: int
) -> None:
    upstreams["reviews"].answer(answer)
    reply = request(f"{page_of_fakes.url}/api/v1/products/0/reviews")
    assert (reply.status, reply.text) == (status, f'{{"error": "{REVIEWS_ERROR}"}}')
    assert len(upstreams["reviews"].seen) == 2
    page = request(f"{page_of_fakes.url}/productpage").text
    assert f'<h2>Error fetching product reviews!</h2>\n<p class="error">{REVIEWS_ERROR}</p>' in page
    assert len(upstreams["reviews"].seen) == 4


def test_a_second_call_to_reviews_can_save_the_page(
    page_of_fakes: Service, upstreams: dict[str, Stub]
) -> None:
    upstreams["reviews"].answer(in_turn(Answer(status=500), Answer(body=REVIEWS_BODY)))
    page = request(f"{page_of_fakes.url}/productpage").text
    assert "<p>Good.</p>" in page and REVIEWS_ERROR not in page
    assert len(upstreams["reviews"].seen) == 2


def test_a_reviews_call_slower_than_three_seconds_is_abandoned_and_retried(
    page_of_fakes: Service, upstreams: dict[str, Stub]
) -> None:
    upstreams["reviews"].answer(
        in_turn(
            Answer(body=REVIEWS_BODY, delay=REVIEWS_SLOWER_THAN_PRODUCTPAGE_WAITS), Answer(body=REVIEWS_BODY)
        )
    )
    reply = request(f"{page_of_fakes.url}/api/v1/products/0/reviews")
    assert reply.status == 200
    assert len(upstreams["reviews"].seen) == 2  # had productpage waited 3.5 s, one call would have done


def test_the_page_shows_rating_errors_and_no_stars(
    page_of_fakes: Service, upstreams: dict[str, Stub]
) -> None:
    reviews = {
        "id": "0",
        "podname": "p",
        "clustername": "west",
        "reviews": [
            {"reviewer": "A", "text": "a", "rating": {"error": "Ratings service is currently unavailable"}},
            {"reviewer": "B", "text": "b"},
            {"reviewer": "C", "text": "<script>x</script>", "rating": {"stars": 3, "color": "red"}},
        ],
    }
    upstreams["reviews"].answer(Answer(body=json.dumps(reviews)))
    page = request(f"{page_of_fakes.url}/productpage").text
    assert page.count('<p class="rating-error"><i>Ratings service is currently unavailable</i></p>') == 1
    assert _stars(page) == [("red", "\u2605" * 3 + "\u2606" * 2)]
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    assert "Reviews served by: p on cluster west" in page


def test_ratings_failure_in_the_api(page_of_fakes: Service, upstreams: dict[str, Stub]) -> None:
    upstreams["ratings"].answer(Answer(status=500, body="x"))
    reply = request(f"{page_of_fakes.url}/api/v1/products/0/ratings")
    assert (reply.status, reply.text) == (500, f'{{"error": "{RATINGS_ERROR}"}}')


def test_signed_in_user_is_sent_as_end_user(page_of_fakes: Service, upstreams: dict[str, Stub]) -> None:
    signed_in = request(
        f"{page_of_fakes.url}/login",
        "POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="username=jason",
    )
    cookie = _session_cookie(signed_in)
    request(f"{page_of_fakes.url}/productpage", headers={"Cookie": cookie})
    for name in ("details", "reviews"):
        [seen] = upstreams[name].seen
        assert seen.headers["end-user"] == "jason"
        assert seen.headers["cookie"] == cookie  # the session travels on, as in the original


def test_multipart_sign_in(page_of_fakes: Service, upstreams: dict[str, Stub]) -> None:
    form = (
        b'--XyZ\r\nContent-Disposition: form-data; name="username"\r\n\r\njason\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="passwd"\r\n\r\npw\r\n--XyZ--\r\n'
    )
    signed_in = request(
        f"{page_of_fakes.url}/login",
        "POST",
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
        body=form,
    )
    request(f"{page_of_fakes.url}/api/v1/products/0/reviews", headers={"Cookie": _session_cookie(signed_in)})
    assert [seen.headers.get("end-user") for seen in upstreams["reviews"].seen] == ["jason"]


def test_an_incoming_end_user_header_is_not_passed_on(
    page_of_fakes: Service, upstreams: dict[str, Stub]
) -> None:
    request(f"{page_of_fakes.url}/productpage", headers={"end-user": "jason"})
    assert [seen.headers.get("end-user") for seen in _all_seen(upstreams)] == [None, None]


def test_tracing_and_session_headers_are_copied(page_of_fakes: Service, upstreams: dict[str, Stub]) -> None:
    copied = {
        "x-request-id": "r-1",
        "x-ot-span-context": "ot",
        "x-datadog-trace-id": "1",
        "x-datadog-parent-id": "2",
        "x-datadog-sampling-priority": "1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "k=v",
        "x-cloud-trace-context": "c/1",
        "grpc-trace-bin": "AAA",
        "sw8": "1-x",
        "user-agent": "tester/1.0",
        "cookie": "a=b",
        "authorization": "Bearer t",
        "jwt": "j",
    }
    request(f"{page_of_fakes.url}/productpage", headers={**copied, "x-other": "no"})
    for seen in _all_seen(upstreams):
        assert {name: seen.headers.get(name) for name in copied} == copied
        assert "x-other" not in seen.headers


@pytest.mark.parametrize(
    ("incoming", "outgoing"),
    [
        (
            {
                "x-b3-traceid": "463ac35c9f6413ad",
                "x-b3-spanid": "0020000000000001",
                "x-b3-parentspanid": "0000000000000007",
                "x-b3-flags": "0",
            },
            {
                "x-b3-traceid": "0000000000000000463ac35c9f6413ad",
                "x-b3-spanid": "0020000000000001",
                "x-b3-sampled": "0",
            },
        ),
        (
            {"x-b3-traceid": "A" * 32, "x-b3-spanid": "B" * 16, "x-b3-sampled": "true"},
            {"x-b3-traceid": "a" * 32, "x-b3-spanid": "b" * 16, "x-b3-sampled": "1"},
        ),
        (
            {"x-b3-traceid": "1" * 32, "x-b3-spanid": "2" * 16, "x-b3-flags": "1"},
            {"x-b3-traceid": "1" * 32, "x-b3-spanid": "2" * 16, "x-b3-sampled": "1"},
        ),
        (
            {"b3": f"{'3' * 32}-{'4' * 16}-0-{'5' * 16}"},
            {"x-b3-traceid": "3" * 32, "x-b3-spanid": "4" * 16, "x-b3-sampled": "0"},
        ),
        ({"x-b3-traceid": "1" * 32}, {}),
        ({"x-b3-traceid": "xyz", "x-b3-spanid": "2" * 16}, {}),
        ({}, {}),
    ],
)
def test_b3_headers_are_rederived(
    page_of_fakes: Service, upstreams: dict[str, Stub], incoming: dict[str, str], outgoing: dict[str, str]
) -> None:
    request(f"{page_of_fakes.url}/productpage", headers=incoming)
    for seen in _all_seen(upstreams):
        sent = {
            name: value for name, value in seen.headers.items() if name.startswith("x-b3-") or name == "b3"
        }
        assert sent == outgoing


def test_calls_go_through_the_proxy_named_by_http_proxy(launcher: Launcher, stub: StubFactory) -> None:
    def by_service(seen: Seen) -> Answer:
        return Answer(
            body=json.dumps(_details(0) if "/details/" in seen.target else json.loads(REVIEWS_BODY))
        )

    proxy = stub(by_service)
    page = launcher.start("productpage", env={"HTTP_PROXY": proxy.url, "REVIEWS_HOSTNAME": "reviews.shop"})
    assert "<p>Good.</p>" in request(f"{page.url}/productpage").text
    assert [(seen.target, seen.headers["host"]) for seen in proxy.seen] == [
        ("http://details:9080/details/0", "details:9080"),
        ("http://reviews.shop:9080/reviews/0", "reviews.shop:9080"),
    ]


def test_flooding_calls_reviews_again_for_every_page(launcher: Launcher, stub: StubFactory) -> None:
    reviews = stub(Answer(body=REVIEWS_BODY))
    page = launcher.start("productpage", env={"FLOOD_FACTOR": "3", **upstream_env(reviews=reviews)})
    request(f"{page.url}/productpage")
    assert len(reviews.seen) == 4


# -- helpers


def _details(product_id: int) -> dict[str, object]:
    return {
        "id": product_id,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890",
    }


def _stars(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<span class="stars" data-color="([^"]*)"[^>]*>([^<]*)</span>', page)


def _session_cookie(reply: Reply) -> str:
    set_cookie = reply.headers["Set-Cookie"]
    assert set_cookie.startswith("session=") and "HttpOnly" in set_cookie
    return set_cookie.split(";")[0]


def _all_seen(upstreams: dict[str, Stub]) -> list[Seen]:
    return upstreams["details"].seen + upstreams["reviews"].seen
