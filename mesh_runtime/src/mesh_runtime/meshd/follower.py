"""A meshd of another revision following the primary (`meshd serve --revision canary --follow HOST:PORT`).

Istio's canary control plane reads the same config as the stable one from the Kubernetes API server, and the
same endpoints. Here the primary meshd holds both, so the follower keeps a mirror of them (`revisions.py`
has the primary's side):

- it long-polls the primary's `/v1/watch`; when the store moved on it takes `/v1/export` into its own store
  (a mirror: only this loop writes it), when the registry did it takes `/v1/workloads?except=<its revision>`;
- it reports its own proxies' workloads and rows to `/v1/revisions/<revision>` whenever they change, and at
  least every `report_interval`, so that the primary's proxies (and other followers') reach its workloads.

While the primary cannot be reached the follower serves what it last mirrored, as istiod serves its last
config while the API server is away, and tries again with a back-off; it logs the outage once, and its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .. import __version__
from ..command.errors import CommandError
from ..configapi.client import ApiClient
from .revisions import WATCH_TIMEOUT, parse_export
from .state import MeshState
from .workloads import workloads_from_json, workloads_json

log = logging.getLogger(__name__)
T = TypeVar("T")

PRIMARY = "primary"
#: A report holds for this many report intervals at the primary.
REPORT_TTL_INTERVALS = 3
#: How often the follower looks whether its proxies changed (a report is sent only when they did).
CHECK_INTERVAL = 0.5
BACKOFF_START = 0.5
BACKOFF_MAX = 5.0


class FollowError(Exception):
    pass


class Follower:
    def __init__(
        self,
        state: MeshState,
        client: ApiClient,
        revision: str,
        discovery: Callable[[], str],
        report_interval: float = 5.0,
    ) -> None:
        self.state = state
        self.client = client
        self.revision = revision
        self._discovery = discovery
        self.report_interval = report_interval
        #: The primary's store revision and registry version last mirrored.
        self.mirrored: tuple[int, int] = (-1, -1)
        self._down: set[str] = set()

    async def run(self) -> None:
        await asyncio.gather(self._mirror_loop(), self._report_loop())

    # -- config and workloads from the primary --------------------------------------------------------------

    async def _mirror_loop(self) -> None:
        backoff = BACKOFF_START
        while True:
            try:
                await self.mirror_once(WATCH_TIMEOUT)
            except FollowError as exc:
                self._trouble("mirror", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            else:
                self._fine("mirror")
                backoff = BACKOFF_START

    async def mirror_once(self, timeout: float) -> None:
        """Wait (up to `timeout`) for the primary to change, then take what changed."""
        revision, workloads = self.mirrored
        seen = await self._call(
            "GET",
            "/v1/watch",
            {"revision": str(revision), "workloads": str(workloads), "timeout": f"{timeout:g}"},
        )
        if seen.get("revision") != revision:
            revision = await self._mirror_config()
        if seen.get("workloads") != workloads:
            await self._mirror_workloads()
            workloads = int(seen.get("workloads", -1))
        self.mirrored = (revision, workloads)

    async def _mirror_config(self) -> int:
        parsed = parse_export(await self._call("GET", "/v1/export"))
        if isinstance(parsed, str):
            raise FollowError(f"the primary's export: {parsed}")
        revision, objects, namespaces = parsed
        changed = await self.state.mirror(objects, namespaces)
        if changed:
            log.info("mirrored the primary's store at revision %d (%s)", revision, ", ".join(sorted(changed)))
        return revision

    async def _mirror_workloads(self) -> None:
        body = await self._call("GET", "/v1/workloads", {"except": self.revision})
        entries = workloads_from_json(body.get("items"))
        if isinstance(entries, str):
            raise FollowError(f"the primary's workloads: {entries}")
        self.state.set_remote_workloads(PRIMARY, entries)

    # -- this revision's proxies to the primary -------------------------------------------------------------

    async def _report_loop(self) -> None:
        """Report when the proxies' workloads or sync states change (looked at every `CHECK_INTERVAL`,
        sooner when the registry changes), and at least every `report_interval`."""
        loop = asyncio.get_running_loop()
        last: dict[str, Any] | None = None
        last_at = 0.0
        while True:
            body = self._report_body()
            due = loop.time() - last_at >= self.report_interval
            if due or body != last:
                try:
                    await self._call("PUT", f"/v1/revisions/{self.revision}", body=body)
                except FollowError as exc:
                    self._trouble("report", exc)
                    await asyncio.sleep(BACKOFF_START)
                    continue
                self._fine("report")
                last, last_at = body, loop.time()
            await self.state.wait_for_change(min(CHECK_INTERVAL, self.report_interval))

    def _report_body(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "discovery": self._discovery(),
            "ttl": self.report_interval * REPORT_TTL_INTERVALS,
            "workloads": workloads_json(self.state.proxies.saved()),
            "proxies": self.state.push.rows(),
        }

    # -- calls ----------------------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        try:
            response = await in_daemon_thread(
                lambda: self.client.request(method, path, body=body, query=query)
            )
        except CommandError as exc:
            raise FollowError(str(exc)) from exc
        if not response.ok:
            raise FollowError(f"{method} {path}: {response.error}")
        if not isinstance(response.body, dict):
            raise FollowError(f"{method} {path}: meshd answered no JSON object")
        return response.body

    def _trouble(self, what: str, exc: Exception) -> None:
        if what not in self._down:
            self._down.add(what)
            log.warning(
                "revision %s cannot %s the primary at %s (serving what it last mirrored; retrying): %s",
                self.revision,
                "follow" if what == "mirror" else "report to",
                self.client.url,
                exc,
            )

    def _fine(self, what: str) -> None:
        if what in self._down:
            self._down.discard(what)
            log.info("revision %s reaches the primary at %s again (%s)", self.revision, self.client.url, what)


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """`work()` on a thread of its own that never holds up meshd's exit (a long poll may be in flight)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def call() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: meshd has stopped
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=call, name="meshd-follow", daemon=True).start()
    return await future
