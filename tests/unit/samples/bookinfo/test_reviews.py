"""reviews as a real process: the hand-built body per version, calls to ratings, timeouts, header copying."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from bookinfo.propagation import FORWARDED_HEADERS
from bookinfo.reviews import ratings_timeout
from tests.unit.samples.bookinfo.conftest import StubFactory
from tests.unit.samples.bookinfo.support import Answer, Launcher, Service, Stub, request, upstream_env

PODNAME = "reviews-test-pod"
TEXT_1 = "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"
TEXT_2 = (
    "Absolutely fun and entertaining. "
    "The play lacks thematic depth when compared to other plays by Shakespeare."
)
UNAVAILABLE = '"rating": {"error": "Ratings service is currently unavailable"}'
RATINGS_SLOWER_THAN_V3_WAITS = 3.5  # v3 waits 2.5 s, v2 10 s


def body(product_id: str, rating_1: str = "", rating_2: str = "", clustername: str = "null") -> str:
    """The reviews body as the Java original builds it by hand."""
    return (
        f'{{"id": "{product_id}","podname": "{PODNAME}","clustername": "{clustername}","reviews": ['
        f'{{  "reviewer": "Reviewer1",  "text": "{TEXT_1}"{rating_1}}},'
        f'{{  "reviewer": "Reviewer2",  "text": "{TEXT_2}"{rating_2}}}]}}'
    )


def stars(count: int, color: str) -> str:
    return f', "rating": {{"stars": {count}, "color": "{color}"}}'


@pytest.fixture(scope="module")
def ratings(module_launcher: Launcher) -> Service:
    return module_launcher.start("ratings")


@pytest.fixture(scope="module")
def reviews(module_launcher: Launcher, ratings: Service) -> dict[str, Service]:
    env = {"HOSTNAME": PODNAME, **upstream_env(ratings=ratings)}
    return {
        version: module_launcher.start("reviews", "--version", version, env=env)
        for version in ("v1", "v2", "v3")
    }


@pytest.fixture(scope="module")
def fake_ratings(module_stub: StubFactory) -> Stub:
    return module_stub()


@pytest.fixture(scope="module")
def reviews_of_fake(module_launcher: Launcher, fake_ratings: Stub) -> dict[str, Service]:
    env = {"HOSTNAME": PODNAME, **upstream_env(ratings=fake_ratings)}
    return {
        version: module_launcher.start("reviews", "--version", version, env=env)
        for version in ("v1", "v2", "v3")
    }


@pytest.fixture
def ratings_answer(fake_ratings: Stub) -> Stub:
    """The fake ratings, answering like the real one until a test says otherwise."""
    fake_ratings.answer(Answer(body='{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}'))
    return fake_ratings


def test_the_v2_body_byte_for_byte(reviews: dict[str, Service]) -> None:
    reply = request(f"{reviews['v2'].url}/reviews/0")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.text == (
        '{"id": "0","podname": "reviews-test-pod","clustername": "null","reviews": ['
        '{  "reviewer": "Reviewer1",  '
        '"text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!", '
        '"rating": {"stars": 5, "color": "black"}},{  "reviewer": "Reviewer2",  "text": "Absolutely fun and '
        'entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.", '
        '"rating": {"stars": 4, "color": "black"}}]}'
    )


def test_v1_has_no_rating(reviews: dict[str, Service]) -> None:
    assert request(f"{reviews['v1'].url}/reviews/0").text == body("0")


def test_v3_has_red_stars(reviews: dict[str, Service]) -> None:
    assert request(f"{reviews['v3'].url}/reviews/0").text == body("0", stars(5, "red"), stars(4, "red"))


def test_v1_never_calls_ratings(reviews_of_fake: dict[str, Service], ratings_answer: Stub) -> None:
    assert request(f"{reviews_of_fake['v1'].url}/reviews/0").status == 200
    assert ratings_answer.seen == []


@pytest.mark.parametrize("version", ["v2", "v3"])
@pytest.mark.parametrize(
    "answer",
    [
        Answer(status=503, body='{"error":"Service unavailable"}'),
        Answer(hang_up=True),
        Answer(body="not json"),
    ],
)
def test_ratings_failure_is_reported_for_each_reviewer(
    reviews_of_fake: dict[str, Service], ratings_answer: Stub, version: str, answer: Answer
) -> None:
    ratings_answer.answer(answer)
    reply = request(f"{reviews_of_fake[version].url}/reviews/0")
    assert (reply.status, reply.text) == (200, body("0", f", {UNAVAILABLE}", f", {UNAVAILABLE}"))
    assert len(ratings_answer.seen) == 1


def test_a_reviewer_missing_from_ratings_is_unavailable_alone(
    reviews_of_fake: dict[str, Service], ratings_answer: Stub
) -> None:
    ratings_answer.answer(Answer(body=json.dumps({"id": 0, "ratings": {"Reviewer1": 3}})))
    reply = request(f"{reviews_of_fake['v2'].url}/reviews/0")
    assert reply.text == body("0", stars(3, "black"), f", {UNAVAILABLE}")


def test_v3_gives_up_on_a_slow_ratings_where_v2_waits(
    reviews_of_fake: dict[str, Service], ratings_answer: Stub
) -> None:
    ratings_answer.answer(
        Answer(body='{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}', delay=RATINGS_SLOWER_THAN_V3_WAITS)
    )
    with ThreadPoolExecutor(2) as pool:
        v2, v3 = pool.map(lambda version: request(f"{reviews_of_fake[version].url}/reviews/0"), ["v2", "v3"])
    assert v2.text == body("0", stars(5, "black"), stars(4, "black"))
    assert v3.text == body("0", f", {UNAVAILABLE}", f", {UNAVAILABLE}")


def test_ratings_waits_by_star_colour() -> None:
    assert (ratings_timeout("black"), ratings_timeout("red"), ratings_timeout("blue")) == (10.0, 2.5, 2.5)


def test_every_propagated_header_reaches_ratings_and_no_other(
    reviews_of_fake: dict[str, Service], ratings_answer: Stub
) -> None:
    incoming = {name: f"value-of-{name}" for name in FORWARDED_HEADERS}
    request(f"{reviews_of_fake['v2'].url}/reviews/0", headers={**incoming, "x-not-propagated": "1"})
    [seen] = ratings_answer.seen
    assert seen.path == "/ratings/0"
    assert {name: seen.headers.get(name) for name in incoming} == incoming
    assert "x-not-propagated" not in seen.headers
    assert seen.headers["accept"] == "application/json"
    assert "end-user" in incoming and "x-b3-parentspanid" in incoming


@pytest.mark.parametrize(
    ("segment", "product_id"), [("+007", "7"), ("-2147483648", "-2147483648"), ("12", "12")]
)
def test_product_id_is_a_java_int(
    reviews_of_fake: dict[str, Service], ratings_answer: Stub, segment: str, product_id: str
) -> None:
    reply = request(f"{reviews_of_fake['v2'].url}/reviews/{segment}")
    assert reply.text == body(product_id, stars(5, "black"), stars(4, "black"))
    assert [seen.path for seen in ratings_answer.seen] == [f"/ratings/{product_id}"]


@pytest.mark.parametrize(
    "path", ["/reviews/abc", "/reviews/2147483648", "/reviews/1.0", "/reviews/", "/reviews/0/x"]
)
def test_a_product_id_that_is_not_an_int_is_404(reviews: dict[str, Service], path: str) -> None:
    assert request(f"{reviews['v2'].url}{path}").status == 404


def test_health(reviews: dict[str, Service]) -> None:
    reply = request(f"{reviews['v1'].url}/health")
    assert (reply.status, reply.text) == (200, '{"status": "Reviews is healthy"}')


def test_environment_overrides_the_version(launcher: Launcher, ratings: Service) -> None:
    env = {
        "HOSTNAME": PODNAME,
        "CLUSTER_NAME": "east",
        "ENABLE_RATINGS": "TRUE",
        "STAR_COLOR": "blue",
        **upstream_env(ratings=ratings),
    }
    v1 = launcher.start("reviews", "--version", "v1", env=env)
    expected = body("0", stars(5, "blue"), stars(4, "blue"), clustername="east")
    assert request(f"{v1.url}/reviews/0").text == expected
