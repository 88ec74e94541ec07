"""A steady load of Bookinfo pages through the ingress gateway, on keep-alive connections, counting every
outcome: `ok` (200 with the details and the reviews on the page), else what went wrong.

The load is bounded: it stops when told, or after `limit` requests. Waiting for it is bounded too.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from types import TracebackType
from urllib.parse import urlsplit

from tests.integration.mesh.running import Page

CLIENTS = 4
LIMIT = 5000
WAIT = 120.0
OK = "ok"


class PageLoad:
    """`CLIENTS` threads, each on its own keep-alive connection, fetching /productpage until stopped."""

    def __init__(self, gateway_url: str, clients: int = CLIENTS, limit: int = LIMIT) -> None:
        parts = urlsplit(gateway_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._limit = limit
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        self.outcomes: Counter[str] = Counter()
        #: Connections the clients opened: one each, unless a connection was closed under them.
        self.connections = 0

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.outcomes.values())

    def __enter__(self) -> PageLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(WAIT)

    def wait_for(self, count: int) -> None:
        """Until `count` requests have been answered (or failed) since the load started."""
        deadline = time.monotonic() + WAIT
        while self.total < count:
            assert time.monotonic() < deadline, (
                f"the load got {self.total} answers, not {count}: {self.outcomes}"
            )
            assert any(t.is_alive() for t in self._threads), f"the load stopped early: {self.outcomes}"
            time.sleep(0.01)

    def _client(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self._stop.is_set() and self.total < self._limit:
            if connection is None:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=30)
                with self._lock:
                    self.connections += 1
            try:
                connection.request("GET", "/productpage")
                reply = connection.getresponse()
                page = Page(reply.status, reply.read().decode(errors="replace"))
                outcome = OK if page.ok() else f"{page.status} {_summary(page)}"
            except (OSError, http.client.HTTPException) as exc:
                outcome = f"{type(exc).__name__}: {exc}"
                connection.close()
                connection = None
            with self._lock:
                self.outcomes[outcome] += 1
        if connection is not None:
            connection.close()


def _summary(page: Page) -> str:
    if page.status != 200:
        return page.body[:80]
    missing = [
        part
        for part, present in (("details", page.has_details), ("reviews", page.has_reviews))
        if not present
    ]
    return f"page without {' and '.join(missing)}"
