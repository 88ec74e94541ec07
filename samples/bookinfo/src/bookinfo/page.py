"""productpage's HTML: the book page and the index. Every value from a service is escaped.

Stars are `<span class="stars" data-color="black" data-stars="4">★★★★☆</span>`: ★ for each star given,
☆ for each of the five not given, so the three reviews versions read apart (none, black, red).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

TITLE = "Simple Bookstore App"
DETAILS_FIELDS = (
    ("Author", "author"),
    ("Year", "year"),
    ("Type", "type"),
    ("Pages", "pages"),
    ("Publisher", "publisher"),
    ("Language", "language"),
    ("ISBN-10", "ISBN-10"),
    ("ISBN-13", "ISBN-13"),
)
FULL_STAR = "\u2605"
EMPTY_STAR = "\u2606"
MAX_STARS = 5


def _text(value: object) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _document(body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{TITLE}</title>\n"
        '<link rel="stylesheet" href="static/bookinfo.css">\n'
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )


def product_page(
    *,
    user: str | None,
    product: Mapping[str, object] | None,
    details_status: int,
    details: object,
    reviews_status: int,
    reviews: object,
) -> str:
    header = f'<header class="bar">\n<span class="brand">BookInfo Sample</span>\n{_account(user)}</header>\n'
    columns = (
        '<div class="columns">\n'
        f'<section class="details">\n{_details(details_status, details)}</section>\n'
        f'<section class="reviews">\n{_reviews(reviews_status, reviews)}</section>\n'
        "</div>\n"
    )
    return _document(f"{header}<main>\n{_product(product)}{columns}</main>\n")


def _account(user: str | None) -> str:
    if user:
        return (
            f'<span class="user">Signed in as <b>{_text(user)}</b> (<a href="logout">sign out</a>)</span>\n'
        )
    return (
        '<form class="login" method="post" action="login">\n'
        '<input type="text" name="username" placeholder="User name" aria-label="User name">\n'
        '<input type="password" name="passwd" placeholder="Password" aria-label="Password">\n'
        '<button type="submit">Sign in</button>\n'
        "</form>\n"
    )


def _product(product: Mapping[str, object] | None) -> str:
    if product is None:
        return ""
    # descriptionHtml is the product catalogue's own markup, not a service's reply.
    return (
        f'<section class="product">\n<h1>{_text(product.get("title"))}</h1>\n'
        f"<p>Summary: {product.get('descriptionHtml', '')}</p>\n</section>\n"
    )


def _error(heading: str, body: object) -> str:
    message = body.get("error") if isinstance(body, Mapping) else None
    paragraph = f'<p class="error">{_text(message)}</p>\n' if message else ""
    return f"<h2>{heading}</h2>\n{paragraph}"


def _details(status: int, details: object) -> str:
    if status != 200 or not isinstance(details, Mapping):
        return _error("Error fetching product details!", details)
    rows = "".join(f"<dt>{label}:</dt><dd>{_text(details.get(key))}</dd>\n" for label, key in DETAILS_FIELDS)
    return f"<h2>Book Details</h2>\n<dl>\n{rows}</dl>\n"


def _reviews(status: int, reviews: object) -> str:
    if status != 200 or not isinstance(reviews, Mapping):
        return _error("Error fetching product reviews!", reviews)
    entries = reviews.get("reviews")
    quoted = (
        "".join(_review(item) for item in entries if isinstance(item, Mapping))
        if isinstance(entries, Sequence)
        else ""
    )
    served_by = f"Reviews served by: {_text(reviews.get('podname'))}"
    cluster = reviews.get("clustername")
    if cluster is not None and cluster != "null":
        served_by += f" on cluster {_text(cluster)}"
    return f'<h2>Book Reviews</h2>\n{quoted}<p class="served-by">{served_by}</p>\n'


def _review(review: Mapping[str, object]) -> str:
    return (
        '<blockquote class="review">\n'
        f"<p>{_text(review.get('text'))}</p>\n"
        f"<footer>{_text(review.get('reviewer'))}</footer>\n"
        f"{_rating(review.get('rating'))}"
        "</blockquote>\n"
    )


def _rating(rating: object) -> str:
    if not isinstance(rating, Mapping):
        return ""
    stars = rating.get("stars")
    if isinstance(stars, int) and not isinstance(stars, bool) and stars:
        return _stars(stars, rating.get("color"))
    if rating.get("error"):
        return f'<p class="rating-error"><i>{_text(rating.get("error"))}</i></p>\n'
    return ""


def _stars(stars: int, color: object) -> str:
    glyphs = FULL_STAR * max(stars, 0) + EMPTY_STAR * max(MAX_STARS - stars, 0)
    colour = _text(color)
    return (
        f'<span class="stars" data-color="{colour}" data-stars="{stars}" style="color: {colour}" '
        f'aria-label="{stars} stars">{glyphs}</span>\n'
    )


def index_page(services: Sequence[tuple[str, str, Sequence[str]]]) -> str:
    """The service table: each service, its address and the services it calls."""
    rows = "".join(
        f"<tr><td>{_text(name)}</td><td>{_text(url)}</td><td>{_text(', '.join(calls))}</td></tr>\n"
        for name, url, calls in services
    )
    return _document(
        '<header class="bar">\n<span class="brand">BookInfo Sample</span>\n</header>\n<main>\n'
        "<h1>Bookinfo: one book page, four services</h1>\n"
        '<p><a class="button" href="productpage?u=normal">Normal user</a> '
        '<a class="button" href="productpage?u=test">Test user</a></p>\n'
        '<table class="services">\n<tr><th>Service</th><th>Address</th><th>Calls</th></tr>\n'
        f"{rows}</table>\n</main>\n"
    )
