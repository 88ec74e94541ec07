"""ratings: the stars each reviewer gave, `{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}`.

The product id is `parseInt` of the last `/`-separated piece of the request URL, query included, as the
Node.js original reads it. v1 keeps ratings POSTed to `/ratings/<id>` in memory. The other versions are
Istio's demonstration variants:

- v2 reads ratings from a database. This port has no database client, so it answers as the original does
  when its database cannot be reached (MongoDB: 500; `DB_TYPE=mysql`: the same error text with status 200).
- v-faulty answers half of the requests 503; v-delayed delays half of them by 7 s.
- v-unavailable is unavailable (503) every other minute; v-unhealthy is unhealthy and unavailable every
  other 15 minutes.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping

from .parsing import js_json, js_number, js_parse_int, json_parse_js
from .server import Request, Response, json_text, not_found

VERSIONS = ("v1", "v2", "v-faulty", "v-delayed", "v-unavailable", "v-unhealthy")

DELAY_SECONDS = 7.0
UNAVAILABLE_PERIOD_SECONDS = 60.0
UNHEALTHY_PERIOD_SECONDS = 900.0

_NOT_NUMERIC = {"error": "please provide numeric product ID"}
_UNAVAILABLE = {"error": "Service unavailable"}
_NO_DATABASE = {"error": "could not connect to ratings database"}


class Ratings:
    def __init__(
        self,
        version: str,
        env: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.monotonic,
        chance: Callable[[], float] = random.random,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = f"ratings-{version}"
        self.version = version
        self.database_type = env.get("DB_TYPE", "mongodb")
        self._clock = clock
        self._chance = chance
        self._sleep = sleep
        self._started = clock()
        self._posted: dict[str, dict[str, object]] = {}
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        url = f"{request.path}?{request.query}" if request.query else request.path
        if request.method == "GET" and request.path == "/health":
            return self._health()
        if request.path.startswith("/ratings/"):
            if request.method == "GET":
                return self._get(url)
            if request.method == "POST":
                return self._post(url, request.body)
        return not_found()

    def _health(self) -> Response:
        if self._healthy():
            return _json(200, {"status": "Ratings is healthy"})
        return _json(500, {"status": "Ratings is not healthy"})

    def _get(self, url: str) -> Response:
        product_id = _product_id(url)
        if product_id is None:
            return _json(400, _NOT_NUMERIC)
        if self.version == "v2":
            return _json(200 if self.database_type == "mysql" else 500, _NO_DATABASE)
        if self.version == "v-faulty" and self._chance() <= 0.5:
            return _json(503, _UNAVAILABLE)
        if self.version == "v-delayed" and self._chance() <= 0.5:
            self._sleep(DELAY_SECONDS)
        if self.version in ("v-unavailable", "v-unhealthy") and self._unavailable():
            return _json(503, _UNAVAILABLE)
        return _json(200, self._ratings(product_id))

    def _post(self, url: str, body: bytes) -> Response:
        product_id = _product_id(url)
        if product_id is None:
            return _json(400, _NOT_NUMERIC)
        try:
            posted = json_parse_js(body.decode("utf-8", errors="replace"))
        except ValueError:
            return _json(400, {"error": "please provide valid ratings JSON"})
        if self.version == "v2":
            return _json(501, {"error": "Post not implemented for database backed ratings"})
        with self._lock:
            self._posted[js_number(product_id)] = {"id": product_id, "ratings": posted}
        return _json(200, self._ratings(product_id))

    def _ratings(self, product_id: float) -> dict[str, object]:
        with self._lock:
            posted = self._posted.get(js_number(product_id))
        if posted is not None:
            return posted
        return {"id": product_id, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}

    def _periods(self, length: float) -> int:
        return int((self._clock() - self._started) // length)

    def _unavailable(self) -> bool:
        period = UNAVAILABLE_PERIOD_SECONDS if self.version == "v-unavailable" else UNHEALTHY_PERIOD_SECONDS
        return self._periods(period) % 2 == 1

    def _healthy(self) -> bool:
        return self.version != "v-unhealthy" or self._periods(UNHEALTHY_PERIOD_SECONDS) % 2 == 0


def _product_id(url: str) -> float | None:
    product_id = js_parse_int(url.split("/")[-1])
    return None if product_id != product_id else product_id  # NaN


def _json(status: int, value: object) -> Response:
    return json_text(status, js_json(value))
