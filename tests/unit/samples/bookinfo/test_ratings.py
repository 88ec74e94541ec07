"""ratings as a real process (bodies, parseInt quirks, POST in memory, v2); its timed variants in-process."""

from __future__ import annotations

import pytest

from bookinfo.ratings import DELAY_SECONDS, Ratings
from bookinfo.server import Headers, Request, Response
from tests.unit.samples.bookinfo.support import Launcher, Service, request

DEFAULT_0 = '{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}'
NOT_NUMERIC = '{"error":"please provide numeric product ID"}'
UNAVAILABLE = '{"error":"Service unavailable"}'


@pytest.fixture(scope="module")
def ratings(module_launcher: Launcher) -> Service:
    return module_launcher.start("ratings")


def test_ratings_body(ratings: Service) -> None:
    reply = request(f"{ratings.url}/ratings/0")
    assert (reply.status, reply.text) == (200, DEFAULT_0)
    assert reply.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "product_id"),
    [
        ("/ratings/5abc", "5"),  # parseInt reads the numeric prefix
        ("/ratings/0x10", "16"),
        ("/ratings/-3", "-3"),
        ("/ratings/7?x=1", "7"),  # the query is part of the last piece
        ("/ratings/1/2", "2"),
        ("/ratings/99999999999999999999", "100000000000000000000"),  # a double, written as JavaScript does
    ],
)
def test_product_id_is_parse_int_of_the_last_piece_of_the_url(
    ratings: Service, path: str, product_id: str
) -> None:
    reply = request(f"{ratings.url}{path}")
    assert (reply.status, reply.text) == (200, DEFAULT_0.replace('"id":0', f'"id":{product_id}'))


@pytest.mark.parametrize("path", ["/ratings/abc", "/ratings/", "/ratings/0?x=a/b"])
def test_non_numeric_product_id_is_400(ratings: Service, path: str) -> None:
    reply = request(f"{ratings.url}{path}")
    assert (reply.status, reply.text) == (400, NOT_NUMERIC)


def test_posted_ratings_are_kept_in_memory(ratings: Service) -> None:
    posted = request(f"{ratings.url}/ratings/41", "POST", body='{"Reviewer1": 1, "Reviewer2": 2.0}')
    expected = '{"id":41,"ratings":{"Reviewer1":1,"Reviewer2":2}}'
    assert (posted.status, posted.text) == (200, expected)
    assert request(f"{ratings.url}/ratings/41").text == expected
    assert request(f"{ratings.url}/ratings/41abc").text == expected  # the same id for parseInt
    assert request(f"{ratings.url}/ratings/40").text == DEFAULT_0.replace('"id":0', '"id":40')


@pytest.mark.parametrize("body", ["", "not json", "{'a': 1}", "NaN", "{"])
def test_post_that_is_not_json_is_400(ratings: Service, body: str) -> None:
    reply = request(f"{ratings.url}/ratings/42", "POST", body=body)
    assert (reply.status, reply.text) == (400, '{"error":"please provide valid ratings JSON"}')
    assert request(f"{ratings.url}/ratings/42").text == DEFAULT_0.replace('"id":0', '"id":42')


def test_post_to_a_non_numeric_id_is_400(ratings: Service) -> None:
    reply = request(f"{ratings.url}/ratings/x", "POST", body="{}")
    assert (reply.status, reply.text) == (400, NOT_NUMERIC)


def test_health(ratings: Service) -> None:
    reply = request(f"{ratings.url}/health")
    assert (reply.status, reply.text) == (200, '{"status":"Ratings is healthy"}')


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/ratings"), ("PUT", "/ratings/0")])
def test_other_requests_are_404(ratings: Service, method: str, path: str) -> None:
    assert request(f"{ratings.url}{path}", method, body="{}").status == 404


def test_v2_without_a_database(launcher: Launcher) -> None:
    mongo = launcher.start("ratings", "--version", "v2")
    mysql = launcher.start("ratings", "--version", "v2", env={"DB_TYPE": "mysql"})
    no_database = '{"error":"could not connect to ratings database"}'
    for service, status in ((mongo, 500), (mysql, 200)):
        reply = request(f"{service.url}/ratings/0")
        assert (reply.status, reply.text) == (status, no_database)
    posted = request(f"{mongo.url}/ratings/0", "POST", body="{}")
    assert (posted.status, posted.text) == (
        501,
        '{"error":"Post not implemented for database backed ratings"}',
    )


# -- the timed and random variants, in-process with a controlled clock and chance


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _get(app: Ratings, path: str) -> Response:
    return app.handle(Request("GET", path, "", Headers()))


def _status_and_text(response: Response) -> tuple[int, str]:
    return response.status, response.body.decode("utf-8")


@pytest.mark.parametrize(("chance", "expected"), [(0.5, (503, UNAVAILABLE)), (0.51, (200, DEFAULT_0))])
def test_faulty_fails_half_of_the_requests(chance: float, expected: tuple[int, str]) -> None:
    app = Ratings("v-faulty", {}, chance=lambda: chance)
    assert _status_and_text(_get(app, "/ratings/0")) == expected


@pytest.mark.parametrize(("chance", "slept"), [(0.2, [DELAY_SECONDS]), (0.8, [])])
def test_delayed_delays_half_of_the_requests_by_seven_seconds(chance: float, slept: list[float]) -> None:
    sleeps: list[float] = []
    app = Ratings("v-delayed", {}, chance=lambda: chance, sleep=sleeps.append)
    assert _status_and_text(_get(app, "/ratings/0")) == (200, DEFAULT_0)
    assert sleeps == slept


def test_unavailable_every_other_minute() -> None:
    clock = Clock()
    app = Ratings("v-unavailable", {}, clock=clock)
    statuses = []
    for elapsed in (0, 59, 61, 119, 121):
        clock.now = 1000.0 + elapsed
        statuses.append(_get(app, "/ratings/0").status)
    assert statuses == [200, 200, 503, 503, 200]
    assert _get(app, "/health").status == 200


def test_unhealthy_every_other_quarter_hour() -> None:
    clock = Clock()
    app = Ratings("v-unhealthy", {}, clock=clock)
    assert (_get(app, "/health").status, _get(app, "/ratings/0").status) == (200, 200)
    clock.now += 901
    assert _status_and_text(_get(app, "/health")) == (500, '{"status":"Ratings is not healthy"}')
    assert _status_and_text(_get(app, "/ratings/0")) == (503, UNAVAILABLE)
    clock.now += 900
    assert (_get(app, "/health").status, _get(app, "/ratings/0").status) == (200, 200)
