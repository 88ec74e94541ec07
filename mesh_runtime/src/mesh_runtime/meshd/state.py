"""The mesh as meshd holds it: the config store, the workloads of the proxies (`proxies.py`), snapshots of
both, and the push server that follows every change.

Writes go to SQLite on one worker thread (they are serialised and never block the event loop); everything
else happens on the event loop. A snapshot is built at most once per (store revision, registry version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..discovery.push import ProxyConnection, PushServer
from ..discovery.registry import Workload
from ..discovery.snapshot import CONFIG_KINDS, MeshSettings, Snapshot, build_snapshot
from ..discovery.store import ConfigStore, PutNamespace, StoredObject, Write, WriteResult
from ..resources import kinds as k
from ..xds import Node
from .proxies import GRACE_PERIOD, RECONNECT_WINDOW, ProxyWorkloads

log = logging.getLogger(__name__)
T = TypeVar("T")


class MeshState:
    def __init__(
        self,
        store: ConfigStore,
        settings: MeshSettings,
        *,
        debounce_after: float = 0.1,
        debounce_max: float = 10.0,
        grace_period: float = GRACE_PERIOD,
        reconnect_window: float = RECONNECT_WINDOW,
        workloads_file: Path | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.registry_version = 0
        self._snapshot: Snapshot | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meshd-store")
        self.proxies = ProxyWorkloads(
            self._registry_changed,
            grace_period=grace_period,
            reconnect_window=reconnect_window,
            path=workloads_file,
            run_in_writer=self.run_in_writer,
        )
        self.push = PushServer(self.snapshot, debounce_after=debounce_after, debounce_max=debounce_max)
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def proxy_workloads(self) -> dict[str, Workload]:
        return self.proxies.workloads

    # -- snapshots ------------------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        current = self._snapshot
        if (
            current is not None
            and current.revision == self.store.revision
            and current.registry_version == self.registry_version
        ):
            return current
        snapshot = build_snapshot(
            self.store.objects(),
            self.store.namespaces(),
            list(self.proxy_workloads.values()),
            revision=self.store.revision,
            registry_version=self.registry_version,
            settings=self.settings,
        )
        self._snapshot = snapshot
        metrics = self.push.metrics
        metrics.services.set(len(snapshot.services))
        metrics.virtual_services.set(len(snapshot.of_kind(k.VIRTUAL_SERVICE)))
        return snapshot

    # -- config writes --------------------------------------------------------------------------------------

    async def run_in_writer(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, work)

    async def write(self, writes: Sequence[Write], dry_run: bool = False) -> list[WriteResult]:
        """Write in one transaction (on the writer thread), then schedule the pushes it calls for."""
        before = self.store.revision
        results = await self.run_in_writer(lambda: self.store.write(writes, dry_run=dry_run))
        if not dry_run:
            changed = {(r.kind, r.namespace, r.name) for r in results if r.outcome != "unchanged"}
            self._changed({kind for kind, _, _ in changed}, before)
        return results

    async def delete(self, kind: str, namespace: str, name: str) -> bool:
        before = self.store.revision
        deleted = await self.run_in_writer(lambda: self.store.delete(kind, namespace, name))
        if deleted:
            self._changed({kind}, before)
        return deleted

    async def delete_namespace(self, name: str) -> list[StoredObject] | None:
        before = self.store.revision
        doomed = await self.run_in_writer(lambda: self.store.delete_namespace(name))
        if doomed:
            self._changed({o.kind for o in doomed}, before)
        return doomed

    def _changed(self, kinds: set[str], before: int) -> None:
        """Config kinds and Services change clusters and routes; WorkloadEntries only endpoints; Namespace
        labels nothing a proxy sees. `before` is the store's revision before the write."""
        if kinds & ({*CONFIG_KINDS, k.SERVICE.kind}):
            self.push.notify(True, "config", since=before)
        elif k.WORKLOAD_ENTRY.kind in kinds:
            self.push.notify(False, "endpoint")

    # -- proxies --------------------------------------------------------------------------------------------

    def proxy_connected(
        self, node: Node, send: Callable[[bytes], None], close: Callable[[str], None]
    ) -> ProxyConnection:
        """A proxy said Hello: register its workload, send its config now, tell the others (debounced)."""
        self.proxies.connected(node)
        connection = self.push.connect(node, send, close)
        self.push.push_initial(connection)
        if self.store.namespace(node.namespace) is None:
            self._in_background(self.write([PutNamespace(node.namespace, ensure_only=True)]))
        return connection

    def proxy_disconnected(self, connection: ProxyConnection) -> None:
        """A proxy's stream ended: its workload stays, unhealthy, until it reconnects or expires."""
        if self.push.disconnect(connection):
            self.proxies.disconnected(connection.node.id)

    def restore_workloads(self) -> int:
        """After a restart: the proxies' workloads as they were (see proxies.py); how many."""
        return self.proxies.restore()

    def _registry_changed(self) -> None:
        self.registry_version += 1
        self.push.notify(False, "endpoint")

    def _in_background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- shutdown -------------------------------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        """meshd is about to close every stream: the proxies behind them stay registered as they are."""
        self.proxies.begin_shutdown()

    async def close(self) -> None:
        await self.proxies.close()
        for task in list(self._background):
            with contextlib.suppress(Exception):
                await task
        await asyncio.get_running_loop().run_in_executor(self._writer, self.store.close)
        self._writer.shutdown(wait=True)
