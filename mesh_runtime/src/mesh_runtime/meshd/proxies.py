"""The workloads of the proxies: registered when a proxy says Hello, unhealthy as soon as its stream is found
dead, removed once it has stayed away for the grace period; kept on disk and restored when meshd restarts.

A restart costs the data plane nothing: the workloads are restored as they were (`workloads.py`), so the
first config a reconnecting proxy gets has the same endpoints it is serving. A restored workload that was
healthy stays so until its proxy reconnects, for at most `reconnect_window` (twice the proxies' longest
reconnect back-off); then it is treated as a stream found dead at that moment. A restored unhealthy one gets
a whole grace period from meshd's start (at least the reconnect window). The streams meshd itself closes
when it shuts down change nothing: the proxies behind them are alive and will reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..discovery.registry import Workload, workload_from_node
from ..xds import Node
from .workloads import SavedWorkload, WorkloadFile, load_workloads

log = logging.getLogger(__name__)

#: A workload whose proxy went away is removed after this long (unhealthy until then): long enough for a
#: proxy that lost its stream (meshd restarted, a link flapped, the proxy restarted) to come back, its
#: back-off being at most 5 s; short enough that a node that is gone for good leaves within a minute.
GRACE_PERIOD = 30.0
#: After a restart, a restored healthy workload waits this long for its proxy (2 x its longest back-off).
RECONNECT_WINDOW = 10.0


class ProxyWorkloads:
    def __init__(
        self,
        on_change: Callable[[], None],
        *,
        grace_period: float = GRACE_PERIOD,
        reconnect_window: float = RECONNECT_WINDOW,
        path: Path | None = None,
        run_in_writer: Callable[[Callable[[], None]], Awaitable[None]] | None = None,
    ) -> None:
        self.workloads: dict[str, Workload] = {}
        self.grace_period = grace_period
        self.reconnect_window = reconnect_window
        self._on_change = on_change
        self._nodes: dict[str, Node] = {}
        self._connected: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._closing = False
        self.file: WorkloadFile | None = None
        if path is not None and run_in_writer is not None:
            self.file = WorkloadFile(path, self.saved, run_in_writer)

    # -- a proxy's stream -----------------------------------------------------------------------------------

    def connected(self, node: Node) -> None:
        """A proxy said Hello: its workload is registered (again), healthy."""
        self._cancel_timer(node.id)
        self._connected.add(node.id)
        self._set(node, healthy=True)

    def disconnected(self, node_id: str) -> None:
        """A proxy's stream ended (or was found dead): unhealthy now, removed after the grace period."""
        self._connected.discard(node_id)
        if self._closing:
            return  # meshd is shutting down: the proxy is alive and will reconnect to the next meshd
        self._mark_unhealthy(node_id)

    # -- a restart ------------------------------------------------------------------------------------------

    def restore(self) -> int:
        """The workloads kept on disk, as they were; how many."""
        if self.file is None:
            return 0
        saved = load_workloads(self.file.path)
        for entry in saved:
            self._nodes[entry.node.id] = entry.node
            self.workloads[entry.node.id] = workload_from_node(entry.node, healthy=entry.healthy)
            if entry.healthy:
                self._schedule(entry.node.id, self.reconnect_window, self._not_reconnected)
            else:  # a whole grace period from now, and never less than a proxy needs to reconnect
                self._schedule(entry.node.id, max(self.grace_period, self.reconnect_window), self._expire)
        if saved:
            self._on_change()
            log.info(
                "restored %d proxy workloads from %s; a healthy one stays so for up to %gs while its "
                "proxy reconnects",
                len(saved),
                self.file.path,
                self.reconnect_window,
            )
        return len(saved)

    def _not_reconnected(self, node_id: str) -> None:
        self._timers.pop(node_id, None)
        if node_id not in self._connected:
            log.warning(
                "proxy %s has not reconnected within %gs of meshd's start: its workload is unhealthy",
                node_id,
                self.reconnect_window,
            )
            self._mark_unhealthy(node_id)

    # -- changes --------------------------------------------------------------------------------------------

    def _set(self, node: Node, healthy: bool) -> None:
        self._nodes[node.id] = node
        self.workloads[node.id] = workload_from_node(node, healthy=healthy)
        self._changed()

    def _mark_unhealthy(self, node_id: str) -> None:
        node = self._nodes.get(node_id)
        if node is None:
            return
        self._set(node, healthy=False)
        self._schedule(node_id, self.grace_period, self._expire)

    def _expire(self, node_id: str) -> None:
        self._timers.pop(node_id, None)
        workload = self.workloads.get(node_id)
        if workload is not None and not workload.healthy:
            del self.workloads[node_id]
            del self._nodes[node_id]
            log.info("proxy %s stayed away for %gs: its workload is removed", node_id, self.grace_period)
            self._changed()

    def _changed(self) -> None:
        self._on_change()
        if self.file is not None:
            self.file.changed()

    def saved(self) -> list[SavedWorkload]:
        """Each workload as the file keeps it (and as another control plane is told of it)."""
        return [SavedWorkload(self._nodes[i], w.healthy) for i, w in self.workloads.items()]

    # -- timers ---------------------------------------------------------------------------------------------

    def _schedule(self, node_id: str, delay: float, callback: Callable[[str], None]) -> None:
        self._cancel_timer(node_id)
        self._timers[node_id] = asyncio.get_running_loop().call_later(delay, callback, node_id)

    def _cancel_timer(self, node_id: str) -> None:
        handle = self._timers.pop(node_id, None)
        if handle is not None:
            handle.cancel()

    # -- shutdown -------------------------------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        """From now on streams end because meshd does: they change nothing."""
        self._closing = True

    async def close(self) -> None:
        self._closing = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self.file is not None:
            await self.file.flush()
