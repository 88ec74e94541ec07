"""productpage: the web page and JSON API in front of details, reviews and ratings.

Behaviour kept from Istio's productpage, because Istio's tasks depend on it:

- every call waits at most 3 s; the call to reviews is made twice if the first attempt does not return 200
  (timeouts, refused connections and error statuses alike), so a slow reviews fails the page after ~6 s;
- the API re-serialises upstream JSON with spaces (`{"id": 0, "author": ...}`) and on failure answers the
  upstream's status (500 when there was no response) with a "Sorry, ..." error;
- `POST /login` signs a user in to the session cookie, and from then on calls to details and reviews carry
  `end-user: <user>` (what `match.headers.end-user` routes on). An incoming `end-user` is not passed on.
- B3 trace headers are re-derived (see `propagation.b3_headers`); the other tracing and session headers are
  copied as they came.
"""

from __future__ import annotations

import json
import mimetypes
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from html import escape
from importlib import resources
from urllib.parse import parse_qs, quote

from . import upstream
from .errors import ConfigurationError
from .page import index_page, product_page
from .propagation import PRODUCTPAGE_FORWARDED_HEADERS, b3_headers, copy_headers
from .server import (
    HTML,
    JSON,
    Request,
    Response,
    method_not_allowed,
    not_found,
    text,
)
from .session import SessionCookies

VERSIONS = ("v1", "v-flooding")

CLIENT_TIMEOUT_SECONDS = 3.0
REVIEWS_ATTEMPTS = 2
DEFAULT_FLOOD_FACTOR = 100  # extra reviews calls per page in v-flooding

DETAILS_UNAVAILABLE = "Sorry, product details are currently unavailable for this book."
REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
RATINGS_UNAVAILABLE = "Sorry, product ratings are currently unavailable for this book."

PRODUCTS: tuple[dict[str, object], ...] = (
    {
        "id": 0,
        "title": "The Comedy of Errors",
        "descriptionHtml": (
            '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: '
            "an early comedy by <b>William Shakespeare</b>. Two pairs of identical twins, parted as infants, "
            "turn up in the same town on the same day, and every mistaken identity leads to another."
        ),
    },
)

_API_PRODUCT = re.compile(r"/api/v1/products/([^/]+)(/reviews|/ratings)?")
_STATIC_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_SAFE_IN_SEGMENT = "!$&'()*+,;=:@%~"
_NO_JSON = object()


@dataclass(frozen=True)
class Outcome:
    """A call's result as the page and the API use it: 200 with the upstream's JSON, or an error."""

    status: int
    body: object


class RequestResults:
    """The `request_result` counter of /metrics: calls by destination app and the status they ended with."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()

    def count(self, destination_app: str, response_code: int) -> None:
        with self._lock:
            self._counts[(destination_app, response_code)] += 1

    def exposition(self) -> str:
        with self._lock:
            counts = sorted(self._counts.items())
        lines = [
            "# HELP request_result_total Results of requests",
            "# TYPE request_result_total counter",
            *(
                f'request_result_total{{destination_app="{app}",response_code="{code}"}} {float(value)}'
                for (app, code), value in counts
            ),
        ]
        return "\n".join(lines) + "\n"


class ProductPage:
    def __init__(self, version: str, env: Mapping[str, str]) -> None:
        self.name = f"productpage-{version}"
        self.details_url = upstream.service_url("details", env)
        self.reviews_url = upstream.service_url("reviews", env)
        self.ratings_url = upstream.service_url("ratings", env)
        self.flood_factor = _flood_factor(version, env)
        self.sessions = SessionCookies.from_env(env)
        self.results = RequestResults()

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/login":
            return self._login(request) if request.method == "POST" else method_not_allowed("POST")
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed("GET, HEAD") if self._known(path) else not_found()
        if path in ("/", "/index.html"):
            return text(200, self._index(), HTML)
        if path == "/health":
            return text(200, "Product page is healthy", HTML)
        if path == "/logout":
            return self._redirect(request, self.sessions.sign_out())
        if path == "/productpage":
            return self._product_page(request)
        if path == "/api/v1/products":
            return _api(Outcome(200, list(PRODUCTS)))
        if path == "/metrics":
            return text(200, self.results.exposition(), "text/plain; version=0.0.4; charset=utf-8")
        if path.startswith("/static/"):
            return _static(path.removeprefix("/static/"))
        match = _API_PRODUCT.fullmatch(path)
        if match is not None:
            return self._api_product(request, match.group(1), match.group(2))
        return not_found()

    def _known(self, path: str) -> bool:
        fixed = ("/", "/index.html", "/health", "/logout", "/productpage", "/api/v1/products", "/metrics")
        return path in fixed or path.startswith("/static/") or _API_PRODUCT.fullmatch(path) is not None

    # -- pages

    def _index(self) -> str:
        return index_page(
            [
                ("productpage", "(this service)", ["details", "reviews"]),
                ("details", self.details_url, []),
                ("reviews", self.reviews_url, ["ratings"]),
                ("ratings", self.ratings_url, []),
            ]
        )

    def _product_page(self, request: Request) -> Response:
        headers = self.outbound_headers(request)
        details = self.details("0", headers)
        for _ in range(self.flood_factor):
            self.reviews("0", headers)
        reviews = self.reviews("0", headers)
        html = product_page(
            user=self.sessions.user(request.headers.get("cookie")),
            product=PRODUCTS[0],
            details_status=details.status,
            details=details.body,
            reviews_status=reviews.status,
            reviews=reviews.body,
        )
        return text(200, html, HTML)

    def _api_product(self, request: Request, product_id: str, aspect: str | None) -> Response:
        segment = quote(product_id, safe=_SAFE_IN_SEGMENT, encoding="latin-1")
        headers = self.outbound_headers(request)
        if aspect == "/reviews":
            return _api(self.reviews(segment, headers))
        if aspect == "/ratings":
            return _api(self.ratings(segment, headers))
        return _api(self.details(segment, headers))

    # -- sessions

    def _login(self, request: Request) -> Response:
        user = _form_value(request, "username")
        cookie = self.sessions.sign_out() if user is None else self.sessions.sign_in(user)
        return self._redirect(request, cookie)

    def _redirect(self, request: Request, cookie: str) -> Response:
        """Back where the user came from (the Referer), as the original does; else to the book page."""
        location = request.headers.get("referer") or "productpage"
        body = (
            f'<!DOCTYPE html>\n<p>Redirecting to <a href="{escape(location)}">{escape(location)}</a>.</p>\n'
        )
        return Response(302, body.encode("utf-8"), HTML, (("Location", location), ("Set-Cookie", cookie)))

    # -- calls

    def outbound_headers(self, request: Request) -> dict[str, str]:
        headers = b3_headers(request.headers)
        user = self.sessions.user(request.headers.get("cookie"))
        if user is not None:
            headers["end-user"] = _header_value(user)
        headers.update(copy_headers(request.headers, PRODUCTPAGE_FORWARDED_HEADERS))
        return headers

    def details(self, product_id: str, headers: Mapping[str, str]) -> Outcome:
        reply = upstream.get(f"{self.details_url}/details/{product_id}", headers, CLIENT_TIMEOUT_SECONDS)
        return self._outcome("details", reply, DETAILS_UNAVAILABLE)

    def reviews(self, product_id: str, headers: Mapping[str, str]) -> Outcome:
        url = f"{self.reviews_url}/reviews/{product_id}"
        reply: upstream.Reply | None = None
        for _ in range(REVIEWS_ATTEMPTS):
            reply = upstream.get(url, headers, CLIENT_TIMEOUT_SECONDS)
            if _json_of_ok(reply) is not _NO_JSON:
                break
        return self._outcome("reviews", reply, REVIEWS_UNAVAILABLE)

    def ratings(self, product_id: str, headers: Mapping[str, str]) -> Outcome:
        reply = upstream.get(f"{self.ratings_url}/ratings/{product_id}", headers, CLIENT_TIMEOUT_SECONDS)
        return self._outcome("ratings", reply, RATINGS_UNAVAILABLE)

    def _outcome(self, app: str, reply: upstream.Reply | None, unavailable: str) -> Outcome:
        body = _json_of_ok(reply)
        if body is not _NO_JSON:
            self.results.count(app, 200)
            return Outcome(200, body)
        # A 200 whose body is not JSON is no usable answer either: reported as 500, like no answer at all.
        status = reply.status if reply is not None and reply.status != 200 else 500
        self.results.count(app, status)
        return Outcome(status, {"error": unavailable})


def _json_of_ok(reply: upstream.Reply | None) -> object:
    if reply is None or reply.status != 200:
        return _NO_JSON
    try:
        return reply.json()
    except ValueError:
        return _NO_JSON


def _api(outcome: Outcome) -> Response:
    # Re-serialised with Python's default separators, as the original's simplejson writes them.
    return Response(outcome.status, json.dumps(outcome.body).encode("utf-8"), JSON)


def _header_value(value: str) -> str:
    """A header value as http.client sends it (Latin-1): non-Latin-1 text goes out as its UTF-8 bytes."""
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8").decode("latin-1")


def _form_value(request: Request, name: str) -> str | None:
    """A field from the query string or else the form body (urlencoded or multipart), as Flask's values."""
    for source in (request.query, _urlencoded_body(request)):
        values = parse_qs(source, keep_blank_values=True).get(name)
        if values:
            return values[0]
    return _multipart_value(request, name)


def _urlencoded_body(request: Request) -> str:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return ""
    return request.body.decode("utf-8", errors="replace")


def _multipart_value(request: Request, name: str) -> str | None:
    content_type = request.headers.get("content-type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    document = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace") + request.body
    message = BytesParser(policy=HTTP).parsebytes(document)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if isinstance(part, Message) and part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return None


def _static(name: str) -> Response:
    segments = name.split("/")
    if not all(_STATIC_NAME.fullmatch(segment) for segment in segments):
        return not_found()
    resource = resources.files("bookinfo").joinpath("static", *segments)
    if not resource.is_file():
        return not_found()
    content_type = mimetypes.guess_type(segments[-1])[0] or "application/octet-stream"
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    return Response(200, resource.read_bytes(), content_type)


def _flood_factor(version: str, env: Mapping[str, str]) -> int:
    configured = env.get("FLOOD_FACTOR")
    if configured is None:
        return DEFAULT_FLOOD_FACTOR if version == "v-flooding" else 0
    try:
        factor = int(configured)
    except ValueError:
        factor = -1
    if factor < 0:
        raise ConfigurationError(
            f"FLOOD_FACTOR={configured!r}: give a whole number of extra calls, 0 or more"
        )
    return factor
