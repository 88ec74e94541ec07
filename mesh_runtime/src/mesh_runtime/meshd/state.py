"""The mesh as meshd holds it: the config store, the workloads of the proxies (`proxies.py`) and those other
revisions' control planes report (`remote_workloads`), snapshots of them, and the push server that follows
every change. `wait_for_change` lets a watcher (a follower's long poll, `revisions.py`) wait for the next one.

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
from ..discovery.registry import Workload, workload_from_node
from ..discovery.snapshot import CONFIG_KINDS, MeshSettings, Snapshot, build_snapshot
from ..discovery.store import ConfigStore, PutNamespace, PutObject, StoredObject, Write, WriteResult
from ..resources import kinds as k
from ..xds import Node
from .proxies import GRACE_PERIOD, RECONNECT_WINDOW, ProxyWorkloads
from .workloads import SavedWorkload

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
        mirrored: bool = False,
    ) -> None:
        self.store = store
        self.settings = settings
        #: The store is a mirror of another meshd's (a follower's): only `mirror` writes to it.
        self.mirrored = mirrored
        self.registry_version = 0
        #: Moves on when this meshd's own proxies' workloads change (what a follower reports).
        self.local_version = 0
        #: The workloads other control planes serve, by source (a revision's name, or "primary").
        self.remote_workloads: dict[str, tuple[SavedWorkload, ...]] = {}
        self._change = asyncio.Event()
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
            self.all_workloads(),
            revision=self.store.revision,
            registry_version=self.registry_version,
            settings=self.settings,
        )
        self._snapshot = snapshot
        metrics = self.push.metrics
        metrics.services.set(len(snapshot.services))
        metrics.virtual_services.set(len(snapshot.of_kind(k.VIRTUAL_SERVICE)))
        return snapshot

    def all_workloads(self) -> list[Workload]:
        """This meshd's proxies' workloads and the other control planes'. A proxy known to two (it moved from
        one revision to the other, and the first still holds it, unhealthy, for the grace period) counts
        where it is healthy, this meshd's first."""
        workloads = dict(self.proxy_workloads)
        for source in sorted(self.remote_workloads):
            for entry in self.remote_workloads[source]:
                known = workloads.get(entry.node.id)
                if known is None or (entry.healthy and not known.healthy):
                    workloads[entry.node.id] = workload_from_node(entry.node, healthy=entry.healthy)
        return list(workloads.values())

    def exported_workloads(self, exclude: str = "") -> list[SavedWorkload]:
        """The workloads another control plane is told of: this meshd's and those of every source but
        `exclude` (the asker's own)."""
        entries = self.proxies.saved()
        for source in sorted(self.remote_workloads):
            if source != exclude:
                entries.extend(self.remote_workloads[source])
        return entries

    def set_remote_workloads(self, source: str, entries: Sequence[SavedWorkload]) -> None:
        """The workloads `source` serves are now `entries` (none: it is gone); pushed as endpoints."""
        new = tuple(sorted(entries, key=lambda e: e.node.id))
        if self.remote_workloads.get(source, ()) == new:
            return
        if new:
            self.remote_workloads[source] = new
        else:
            self.remote_workloads.pop(source, None)
        self.registry_version += 1
        self.push.notify(False, "endpoint")
        self._wake()

    # -- watching -------------------------------------------------------------------------------------------

    async def wait_for_change(self, timeout: float) -> None:
        """Until the store or the registry next changes, or `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._change.wait(), timeout)

    def _wake(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

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

    async def mirror(self, objects: Sequence[PutObject], namespaces: dict[str, dict[str, str]]) -> set[str]:
        """Make the store what the primary's is (a follower); the kinds that changed."""
        before = self.store.revision
        changed = await self.run_in_writer(lambda: self.store.replace(objects, namespaces))
        if changed:
            self._changed(changed, before)
        return changed

    async def delete_namespace(self, name: str) -> list[StoredObject] | None:
        before = self.store.revision
        doomed = await self.run_in_writer(lambda: self.store.delete_namespace(name))
        if doomed:
            self._changed({o.kind for o in doomed}, before)
        return doomed

    def _changed(self, kinds: set[str], before: int) -> None:
        """Config kinds and Services change clusters and routes; WorkloadEntries only endpoints; Namespace
        labels nothing a proxy sees. `before` is the store's revision before the write."""
        self._wake()
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
        if self.store.namespace(node.namespace) is None and not self.mirrored:
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
        self.local_version += 1
        self.push.notify(False, "endpoint")
        self._wake()

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
