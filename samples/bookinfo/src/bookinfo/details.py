"""details: the book's type, pages, publisher, language and ISBNs.

`GET /details/<id>` answers the one book under any numeric id (read as Ruby's `Integer()` reads it, from the
last path segment); anything else is 400 with the reason. v2 (or `ENABLE_EXTERNAL_BOOK_SERVICE=true`) looks
the book up in the Google Books API instead, the call that Istio's egress tasks route: over HTTPS, or over
plain HTTP when `WITH_ISTIO=true` (port 443, the sidecar originates TLS) or `DO_NOT_ENCRYPT=true` (port 80).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from . import upstream
from .parsing import ruby_integer
from .propagation import FORWARDED_HEADERS, copy_headers
from .server import Headers, Request, Response, compact_json, method_not_allowed, not_found

VERSIONS = ("v1", "v2")

BOOKS_HOST = "www.googleapis.com"
BOOK_ISBN = "0486424618"  # The Comedy of Errors, Shakespeare its single author
BOOKS_TIMEOUT_SECONDS = 5.0
_METHODS = ("GET", "HEAD", "POST", "PUT")


class BookLookupError(Exception):
    """The external book service gave no usable answer; the message is the client's error text."""


class Details:
    def __init__(self, version: str, env: Mapping[str, str]) -> None:
        self.name = f"details-{version}"
        self.external = version == "v2" or env.get("ENABLE_EXTERNAL_BOOK_SERVICE") == "true"
        self.books_url = books_url(env)

    def handle(self, request: Request) -> Response:
        path = unquote(request.path)
        if not (_mounted(path, "/health") or _mounted(path, "/details")):
            return not_found()
        if request.method not in _METHODS:
            return method_not_allowed(", ".join(_METHODS))
        if _mounted(path, "/health"):
            return compact_json(200, {"status": "Details is healthy"})
        return self._details(path, request.headers)

    def _details(self, path: str, headers: Headers) -> Response:
        product_id = ruby_integer(_last_segment(path))
        if product_id is None:
            return compact_json(400, {"error": "please provide numeric product id"})
        if not self.external:
            return compact_json(200, local_book(product_id))
        try:
            book = self._external_book(product_id, copy_headers(headers, FORWARDED_HEADERS))
        except BookLookupError as error:
            return compact_json(400, {"error": str(error)})
        return compact_json(200, book)

    def _external_book(self, product_id: int, headers: dict[str, str]) -> dict[str, object]:
        reply = upstream.get(self.books_url, headers, BOOKS_TIMEOUT_SECONDS)
        if reply is None:
            raise BookLookupError(f"no response from {BOOKS_HOST}")
        try:
            found = reply.json()
        except ValueError:
            raise BookLookupError(
                f"{BOOKS_HOST} answered {reply.status} with a body that is not JSON"
            ) from None
        return book_from_volume(product_id, found)


def local_book(product_id: int) -> dict[str, object]:
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


def book_from_volume(product_id: int, found: object) -> dict[str, object]:
    """The details of the first volume of a Google Books search result."""
    try:
        result: Any = found
        volume = result["items"][0]["volumeInfo"]
        author = volume["authors"][0]
        identifiers = volume["industryIdentifiers"]
        return {
            "id": product_id,
            "author": author,
            "year": volume.get("publishedDate"),
            "type": "paperback" if volume.get("printType") == "BOOK" else "unknown",
            "pages": volume.get("pageCount"),
            "publisher": volume.get("publisher"),
            "language": "English" if volume.get("language") == "en" else "unknown",
            "ISBN-10": _identifier(identifiers, "ISBN_10"),
            "ISBN-13": _identifier(identifiers, "ISBN_13"),
        }
    except (KeyError, IndexError, TypeError, AttributeError):
        raise BookLookupError(f"{BOOKS_HOST} returned no book details for ISBN {BOOK_ISBN}") from None


def _identifier(identifiers: Any, kind: str) -> object:
    return [item for item in identifiers if item.get("type") == kind][0]["identifier"]


def books_url(env: Mapping[str, str]) -> str:
    query = f"/books/v1/volumes?q=isbn:{BOOK_ISBN}"
    if env.get("WITH_ISTIO") == "true":
        return f"http://{BOOKS_HOST}:443{query}"
    if env.get("DO_NOT_ENCRYPT") == "true":
        return f"http://{BOOKS_HOST}{query}"
    return f"https://{BOOKS_HOST}{query}"


def _mounted(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _last_segment(path: str) -> str:
    """Ruby's `path.split('/')[-1]`: trailing empty segments are dropped first."""
    segments = path.split("/")
    while segments and segments[-1] == "":
        segments.pop()
    return segments[-1] if segments else ""
