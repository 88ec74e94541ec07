"""productpage's HTML, rendered in-process from what the services might answer."""

from __future__ import annotations

import re

from bookinfo.page import index_page, product_page

PRODUCT = {"id": 0, "title": "A <Title>", "descriptionHtml": "<b>kept as markup</b>"}


def _page(reviews: object, reviews_status: int = 200, user: str | None = None) -> str:
    return product_page(
        user=user,
        product=PRODUCT,
        details_status=200,
        details={"type": "paperback", "pages": 200},
        reviews_status=reviews_status,
        reviews=reviews,
    )


def _stars(page: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'<span class="stars" data-color="([^"]*)" data-stars="(-?\d+)"[^>]*>([^<]*)</span>', page
    )


def _reviews(*ratings: object) -> dict[str, object]:
    return {
        "podname": "pod",
        "clustername": "null",
        "reviews": [{"reviewer": f"R{n}", "text": "t", "rating": rating} for n, rating in enumerate(ratings)],
    }


def test_stars_are_full_then_empty_in_the_rating_colour() -> None:
    page = _page(_reviews({"stars": 4, "color": "red"}, {"stars": 5, "color": "black"}))
    assert _stars(page) == [("red", "4", "\u2605" * 4 + "\u2606"), ("black", "5", "\u2605" * 5)]


def test_no_rating_zero_stars_and_errors_show_no_stars() -> None:
    page = _page(
        _reviews(None, {"stars": 0, "color": "black"}, {"error": "Ratings service is currently unavailable"})
    )
    assert _stars(page) == []
    assert page.count("<i>Ratings service is currently unavailable</i>") == 1


def test_values_from_services_are_escaped_and_the_catalogue_markup_is_not() -> None:
    page = _page(_reviews({"stars": 1, "color": '"><script>'}), user="<b>me</b>")
    assert "<script>" not in page and "&quot;&gt;&lt;script&gt;" in page
    assert "Signed in as <b>&lt;b&gt;me&lt;/b&gt;</b>" in page
    assert "<h1>A &lt;Title&gt;</h1>" in page
    assert "<b>kept as markup</b>" in page


def test_reviews_failure_shows_its_error() -> None:
    page = _page(
        {"error": "Sorry, product reviews are currently unavailable for this book."}, reviews_status=503
    )
    assert "<h2>Error fetching product reviews!</h2>" in page
    assert "Sorry, product reviews are currently unavailable for this book." in page
    assert "Book Reviews" not in page


def test_an_odd_reviews_body_still_renders() -> None:
    assert "Reviews served by: " in _page({"reviews": "not a list", "podname": None})
    assert "Error fetching product reviews!" in _page(["not", "an", "object"])


def test_an_empty_user_is_not_signed_in() -> None:
    assert 'name="username"' in _page(_reviews(), user="")


def test_index_lists_the_services() -> None:
    page = index_page([("details", "http://details:9080", [])])
    assert "<tr><td>details</td><td>http://details:9080</td><td></td></tr>" in page
