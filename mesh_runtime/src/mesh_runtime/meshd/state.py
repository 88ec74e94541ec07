"""The mesh as meshd holds it: the config store, the workloads of connected proxies, snapshots of both, and
the push server that follows every change.

Writes go to SQLite on one worker thread (they are serialised and never block the event loop); everything
else happens on the event loop. A snapshot is built at most once per (store revision, registry version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from ..discovery.push import ProxyConnection, PushServer
from ..discovery.registry import Workload, workload_from_node
from ..discovery.snapshot import CONFIG_KINDS, MeshSettings, Snapshot, build_snapshot
from ..discovery.store import ConfigStore, PutNamespace, StoredObject, Write, WriteResult
from ..resources import kinds as k
from ..xds import Node

log = logging.getLogger(__name__)
T = TypeVar("T")

#: A proxy that went away is forgotten after this long (its endpoints stay, unhealthy, until then).
WORKLOAD_EXPIRY = 600.0


class MeshState:
    def __init__(
        self,
        store: ConfigStore,
        settings: MeshSettings,
        *,
        debounce_after: float = 0.1,
        debounce_max: float = 10.0,
        workload_expiry: float = WORKLOAD_EXPIRY,
    ) -> None:
        self.store = store
        self.settings = settings
        self.proxy_workloads: dict[str, Workload] = {}
        self.registry_version = 0
        self.workload_expiry = workload_expiry
        self._snapshot: Snapshot | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meshd-store")
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self.push = PushServer(self.snapshot, debounce_after=debounce_after, debounce_max=debounce_max)
        self._background: set[asyncio.Task[Any]] = set()

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
        results = await self.run_in_writer(lambda: self.store.write(writes, dry_run=dry_run))
        if not dry_run:
            changed = {(r.kind, r.namespace, r.name) for r in results if r.outcome != "unchanged"}
            self._changed({kind for kind, _, _ in changed})
        return results

    async def delete(self, kind: str, namespace: str, name: str) -> bool:
        deleted = await self.run_in_writer(lambda: self.store.delete(kind, namespace, name))
        if deleted:
            self._changed({kind})
        return deleted

    async def delete_namespace(self, name: str) -> list[StoredObject] | None:
        doomed = await self.run_in_writer(lambda: self.store.delete_namespace(name))
        if doomed:
            self._changed({o.kind for o in doomed})
        return doomed

    def _changed(self, kinds: set[str]) -> None:
        """Config kinds and Services change clusters and routes; WorkloadEntries only endpoints; Namespace
        labels nothing a proxy sees."""
        if kinds & ({*CONFIG_KINDS, k.SERVICE.kind}):
            self.push.notify(True, "config")
        elif k.WORKLOAD_ENTRY.kind in kinds:
            self.push.notify(False, "endpoint")

    # -- proxies --------------------------------------------------------------------------------------------

    def proxy_connected(
        self, node: Node, send: Callable[[bytes], None], close: Callable[[str], None]
    ) -> ProxyConnection:
        """A proxy said Hello: register its workload, send its config now, tell the others (debounced)."""
        self._cancel_expiry(node.id)
        self.proxy_workloads[node.id] = workload_from_node(node, healthy=True)
        self.registry_version += 1
        connection = self.push.connect(node, send, close)
        self.push.push_initial(connection)
        self.push.notify(False, "endpoint")
        if self.store.namespace(node.namespace) is None:
            self._in_background(self.write([PutNamespace(node.namespace, ensure_only=True)]))
        return connection

    def proxy_disconnected(self, connection: ProxyConnection) -> None:
        """A proxy's stream ended: its workload stays, unhealthy, until it reconnects or expires."""
        if not self.push.disconnect(connection):
            return
        node_id = connection.node.id
        workload = self.proxy_workloads.get(node_id)
        if workload is not None:
            self.proxy_workloads[node_id] = replace(workload, healthy=False)
            self.registry_version += 1
            self.push.notify(False, "endpoint")
            loop = asyncio.get_running_loop()
            self._expiry[node_id] = loop.call_later(self.workload_expiry, self._expire, node_id)

    def _expire(self, node_id: str) -> None:
        self._expiry.pop(node_id, None)
        workload = self.proxy_workloads.get(node_id)
        if workload is not None and not workload.healthy:
            del self.proxy_workloads[node_id]
            self.registry_version += 1
            self.push.notify(False, "endpoint")

    def _cancel_expiry(self, node_id: str) -> None:
        handle = self._expiry.pop(node_id, None)
        if handle is not None:
            handle.cancel()

    def _in_background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- shutdown -------------------------------------------------------------------------------------------

    async def close(self) -> None:
        for handle in self._expiry.values():
            handle.cancel()
        for task in list(self._background):
            with contextlib.suppress(Exception):
                await task
        await asyncio.get_running_loop().run_in_executor(self._writer, self.store.close)
        self._writer.shutdown(wait=True)
