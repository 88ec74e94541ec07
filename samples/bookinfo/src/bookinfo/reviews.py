"""reviews: two reviews of the book, with the reviewers' stars from ratings in v2 and v3.

- v1 never calls ratings and shows no stars.
- v2 shows black stars and waits up to 10 s for ratings.
- v3 shows red stars and waits up to 2.5 s.

(`ENABLE_RATINGS` and `STAR_COLOR` override a version's choice, as they configure the original image; the
wait is 10 s for black stars and 2.5 s for any other colour.) When ratings fails, times out or leaves a
reviewer out, that reviewer's rating reads "Ratings service is currently unavailable". The body is built
by hand as the Java original builds it, byte for byte, `"clustername": "null"` included when
`CLUSTER_NAME` is unset; the podname is `HOSTNAME`.
"""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Mapping
from urllib.parse import unquote

from . import upstream
from .parsing import java_int
from .propagation import FORWARDED_HEADERS, copy_headers
from .server import Headers, Request, Response, json_text, method_not_allowed, not_found

VERSIONS = ("v1", "v2", "v3")

RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"
REVIEWS = (
    ("Reviewer1", "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by "
        "Shakespeare.",
    ),
)
NO_STARS = -1  # the original's marker for "no rating for this reviewer"

_VERSION_SETTINGS = {"v1": (False, "black"), "v2": (True, "black"), "v3": (True, "red")}
_REVIEWS_PATH = re.compile(r"/reviews/([^/]+)")


def ratings_timeout(star_color: str) -> float:
    """Seconds reviews waits for ratings: 10 for black stars, 2.5 for any other colour."""
    return 10.0 if star_color == "black" else 2.5


class Reviews:
    def __init__(self, version: str, env: Mapping[str, str]) -> None:
        enabled, color = _VERSION_SETTINGS[version]
        self.name = f"reviews-{version}"
        enable_ratings = env.get("ENABLE_RATINGS")
        self.ratings_enabled = enable_ratings.lower() == "true" if enable_ratings is not None else enabled
        self.star_color = env.get("STAR_COLOR") or color
        self.podname = env.get("HOSTNAME") or socket.gethostname()
        self.clustername = env.get("CLUSTER_NAME", "null")
        self.ratings_url = upstream.service_url("ratings", env) + "/ratings"

    def handle(self, request: Request) -> Response:
        if request.path == "/health":
            if request.method not in ("GET", "HEAD"):
                return method_not_allowed("GET, HEAD")
            return json_text(200, '{"status": "Reviews is healthy"}')
        match = _REVIEWS_PATH.fullmatch(request.path)
        if match is None:
            return not_found()
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed("GET, HEAD")
        product_id = java_int(unquote(match.group(1)))
        if product_id is None:
            return not_found()
        stars = self._stars(product_id, request.headers) if self.ratings_enabled else (NO_STARS, NO_STARS)
        return json_text(200, self.body(str(product_id), stars))

    def body(self, product_id: str, stars: tuple[int, int]) -> str:
        reviews = ",".join(
            self._review(reviewer, text, reviewer_stars)
            for (reviewer, text), reviewer_stars in zip(REVIEWS, stars, strict=True)
        )
        return (
            f'{{"id": "{product_id}",'
            f'"podname": "{self.podname}",'
            f'"clustername": "{self.clustername}",'
            f'"reviews": [{reviews}]}}'
        )

    def _review(self, reviewer: str, text: str, stars: int) -> str:
        review = f'{{  "reviewer": "{reviewer}",  "text": "{text}"'
        if self.ratings_enabled:
            if stars != NO_STARS:
                review += f', "rating": {{"stars": {stars}, "color": "{self.star_color}"}}'
            else:
                review += f', "rating": {{"error": "{RATINGS_UNAVAILABLE}"}}'
        return review + "}"

    def _stars(self, product_id: int, incoming: Headers) -> tuple[int, int]:
        headers = copy_headers(incoming, FORWARDED_HEADERS)
        headers["Accept"] = "application/json"
        reply = upstream.get(f"{self.ratings_url}/{product_id}", headers, ratings_timeout(self.star_color))
        if reply is None or reply.status != 200:
            return NO_STARS, NO_STARS
        try:
            found = reply.json()
        except ValueError:
            return NO_STARS, NO_STARS
        ratings = found.get("ratings") if isinstance(found, dict) else None
        if not isinstance(ratings, dict):
            return NO_STARS, NO_STARS
        return _stars_of(ratings, "Reviewer1"), _stars_of(ratings, "Reviewer2")


def _stars_of(ratings: dict[str, object], reviewer: str) -> int:
    """A reviewer's stars as Java's `getInt` reads them (truncated to a 32-bit int); NO_STARS if absent."""
    value = ratings.get(reviewer)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NO_STARS
    if isinstance(value, float) and not math.isfinite(value):
        return NO_STARS
    return (int(value) + 2**31) % 2**32 - 2**31
