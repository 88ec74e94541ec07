"""The push server: what each connected proxy was sent and acknowledged, and pushes after debounced changes.

Changes are debounced as Istio debounces them: the first change starts a batch; the batch is pushed once no
change came for `debounce_after` (100 ms) or `debounce_max` (10 s) after its first change, whichever comes
first; one batch is pushed at a time and the next waits for it. A batch with a config change rebuilds every
proxy's config (a proxy whose config did not change is sent nothing); a batch of registry changes only
rebuilds endpoints and sends the clusters whose endpoints changed (`Push.endpoints`).

Every push carries the snapshot's version and a fresh nonce; a proxy answers Ack (it serves that config) or
Nack (it keeps its last good one). A proxy is SYNCED when it acknowledged the last push sent to it, STALE
while that push is unanswered or was rejected, NOT SENT before its first push. Transport is not done here:
a connection is given a `send(line)` and a `close(reason)`.

Each connection also remembers the store revision its config was last built from or found current at
(`config_revision`, also when a push found nothing to send): a proxy SYNCED at revision R or later has
every resource written at R, which is what a resource's `Reconciled` condition counts (`distribution`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from ..xds import ClusterLoadAssignment, Node, ProxyConfig
from ..xds.protocol import Ack, Nack, Push, dump
from .builder import build_load_assignments, build_proxy_config
from .metrics import DiscoveryMetrics
from .snapshot import Snapshot

log = logging.getLogger(__name__)

DEBOUNCE_AFTER = 0.1
DEBOUNCE_MAX = 10.0
Status = Literal["SYNCED", "STALE", "NOT SENT"]
FULL_TYPES = ("cds", "eds", "lds", "rds")


@dataclass(slots=True)
class SentPush:
    version: str
    nonce: str
    full: bool
    #: When the change this push carries began (the clock's time); None for a proxy's first push.
    change_started: float | None
    acked: bool = False
    error: str = ""

    @property
    def status(self) -> Status:
        return "SYNCED" if self.acked else "STALE"


class ProxyConnection:
    """One connected proxy and what it has been sent."""

    __slots__ = (
        "node",
        "send",
        "close",
        "connected_at",
        "config",
        "last_full",
        "last_push",
        "last_error",
        "acked_version",
        "config_revision",
    )

    def __init__(self, node: Node, send: Callable[[bytes], None], close: Callable[[str], None]) -> None:
        self.node = node
        self.send = send
        self.close = close
        self.connected_at = datetime.now(UTC)
        #: The config the proxy has if it accepted every push: the last full push with later endpoint pushes.
        self.config: ProxyConfig | None = None
        self.last_full: SentPush | None = None
        self.last_push: SentPush | None = None
        self.last_error = ""
        self.acked_version = ""
        #: The store revision this proxy's config was last built from or found current at; -1 before.
        self.config_revision = -1

    @property
    def config_status(self) -> Status:
        return self.last_full.status if self.last_full else "NOT SENT"

    @property
    def endpoint_status(self) -> Status:
        return self.last_push.status if self.last_push else "NOT SENT"

    @property
    def status(self) -> Status:
        states = {self.config_status, self.endpoint_status}
        if "NOT SENT" in states:
            return "NOT SENT"
        return "STALE" if "STALE" in states else "SYNCED"

    def row(self) -> dict[str, Any]:
        """The proxy as `meshctl proxy-status` shows it."""
        node = self.node
        return {
            "id": node.id,
            "type": node.type,
            "namespace": node.namespace,
            "workload": node.workload,
            "address": node.address,
            "state": self.status,
            "cds": self.config_status,
            "lds": self.config_status,
            "rds": self.config_status,
            "eds": self.endpoint_status,
            "sent_version": self.last_push.version if self.last_push else "",
            "acked_version": self.acked_version,
            "config_revision": self.config_revision,
            "last_error": self.last_error,
            "proxy_version": node.proxy_version,
            "admin_address": f"127.0.0.1:{node.admin_port}" if node.admin_port else "",
            "connected_at": self.connected_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


@dataclass(frozen=True, slots=True)
class Distribution:
    """How far the config of one store revision has reached: the connected proxies that serve it
    (`current`), of `total`, and those that rejected a config carrying it (`rejected`, their ids)."""

    current: int
    total: int
    rejected: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.current == self.total


@dataclass(frozen=True, slots=True)
class Change:
    """A batch of changes: `full` when config changed (else only endpoints), since `started`."""

    full: bool
    started: float
    reasons: frozenset[str] = field(default_factory=frozenset)

    def merge(self, other: Change) -> Change:
        return Change(self.full or other.full, min(self.started, other.started), self.reasons | other.reasons)


class PushServer:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        metrics: DiscoveryMetrics | None = None,
        *,
        debounce_after: float = DEBOUNCE_AFTER,
        debounce_max: float = DEBOUNCE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = snapshot
        self.metrics = metrics or DiscoveryMetrics()
        self.debounce_after = debounce_after
        self.debounce_max = debounce_max
        self._clock = clock
        self.connections: dict[str, ProxyConnection] = {}
        self._pending: Change | None = None
        self._last_event = 0.0
        self._wake = asyncio.Event()
        #: Batches pushed so far (tests wait on it instead of on time).
        self.batches = 0
        self._batch_done = asyncio.Condition()

    # -- connections ----------------------------------------------------------------------------------------

    def connect(
        self, node: Node, send: Callable[[bytes], None], close: Callable[[str], None]
    ) -> ProxyConnection:
        """Register a proxy that said Hello; one that was connected under the same id is closed."""
        previous = self.connections.get(node.id)
        if previous is not None:
            previous.close(f"proxy {node.id} connected again on another stream")
        connection = ProxyConnection(node, send, close)
        self.connections[node.id] = connection
        self.metrics.xds.set(len(self.connections))
        return connection

    def disconnect(self, connection: ProxyConnection) -> bool:
        """Forget a proxy whose stream ended; False when a newer stream had already replaced it."""
        if self.connections.get(connection.node.id) is not connection:
            return False
        del self.connections[connection.node.id]
        self.metrics.xds.set(len(self.connections))
        return True

    def push_initial(self, connection: ProxyConnection) -> None:
        """A proxy's first config, sent at once (not debounced)."""
        self._push_full(connection, self._snapshot(), None, force=True)

    def acknowledge(self, connection: ProxyConnection, ack: Ack) -> None:
        for push in _outstanding(connection):
            if push.nonce == ack.nonce and not push.acked:
                push.acked, push.error = True, ""
                if push.change_started is not None:
                    self.metrics.convergence.observe(max(self._clock() - push.change_started, 0.0))
        if connection.last_push is not None and connection.last_push.nonce == ack.nonce:
            connection.acked_version = ack.version
            connection.last_error = ""

    def reject(self, connection: ProxyConnection, nack: Nack) -> None:
        for push in _outstanding(connection):
            if push.nonce == nack.nonce:
                push.acked, push.error = False, nack.error
                types = FULL_TYPES if push.full else ("eds",)
                for kind in types:
                    self.metrics.rejects.increment(kind)
        connection.last_error = nack.error
        log.warning("proxy %s rejected config %s: %s", connection.node.id, nack.version, nack.error)

    def rows(self) -> list[dict[str, Any]]:
        return [c.row() for c in sorted(self.connections.values(), key=lambda c: c.node.id)]

    def distribution(self, revision: int) -> Distribution:
        """Which connected proxies serve a config that includes every write up to `revision`: those SYNCED
        whose config was built from, or found current at, that revision or a later one."""
        current = 0
        rejected = []
        for connection in sorted(self.connections.values(), key=lambda c: c.node.id):
            if connection.config_revision < revision:
                continue
            if connection.status == "SYNCED":
                current += 1
            elif connection.last_error:
                rejected.append(connection.node.id)
        return Distribution(current, len(self.connections), tuple(rejected))

    # -- changes --------------------------------------------------------------------------------------------

    def notify(self, full: bool, reason: str, since: int | None = None) -> None:
        """Something changed: config (`full`) or only endpoints. Pushed after the debounce.

        A config change written after store revision `since` is in no proxy's config until the next full
        push checks it (an endpoint push in between may have seen its revision without building routes).
        """
        if full and since is not None:
            for connection in self.connections.values():
                connection.config_revision = min(connection.config_revision, since)
        now = self._clock()
        change = Change(full, now, frozenset({reason}))
        self._pending = change if self._pending is None else self._pending.merge(change)
        self._last_event = now
        self._wake.set()

    async def run(self) -> None:
        """Push debounced batches until cancelled."""
        while True:
            await self._wake.wait()
            await self._wait_until_quiet()
            change, self._pending = self._pending, None
            self._wake.clear()
            if change is None:
                continue
            self.metrics.debounce_time.observe(max(self._clock() - change.started, 0.0))
            self.push_all(change)
            async with self._batch_done:
                self.batches += 1
                self._batch_done.notify_all()

    async def wait_for_batches(self, count: int) -> None:
        """Wait until `count` batches have been pushed since this server started."""
        async with self._batch_done:
            await self._batch_done.wait_for(lambda: self.batches >= count)

    async def _wait_until_quiet(self) -> None:
        while self._pending is not None:
            deadline = min(self._last_event + self.debounce_after, self._pending.started + self.debounce_max)
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)

    def push_all(self, change: Change) -> None:
        """Push one batch to every connected proxy, from a fresh snapshot."""
        snapshot = self._snapshot()
        self.metrics.push_triggers.increment("config" if change.full else "endpoint")
        for connection in list(self.connections.values()):
            if change.full or connection.config is None:
                self._push_full(connection, snapshot, change.started)
            else:
                self._push_endpoints(connection, snapshot, change.started)

    # -- pushing --------------------------------------------------------------------------------------------

    def _push_full(
        self, connection: ProxyConnection, snapshot: Snapshot, started: float | None, force: bool = False
    ) -> None:
        began = self._clock()
        try:
            config = build_proxy_config(snapshot, connection.node)
        except Exception as exc:  # a builder bug must not stop pushes to everyone else
            self._build_failed(connection, "cds_builderr", exc)
            return
        current = connection.config
        if not force and current is not None and replace(config, version=current.version) == current:
            connection.config_revision = snapshot.revision
            return  # nothing this proxy sees has changed
        push = Push(version=config.version, nonce=uuid.uuid4().hex, config=config)
        if self._send(connection, push, full=True, started=started):
            connection.config = config
            connection.config_revision = snapshot.revision
            for kind in FULL_TYPES:
                self.metrics.pushes.increment(kind)
            self.metrics.push_time.observe(max(self._clock() - began, 0.0))

    def _push_endpoints(self, connection: ProxyConnection, snapshot: Snapshot, started: float | None) -> None:
        current = connection.config
        if current is None:
            return
        began = self._clock()
        try:
            assignments = build_load_assignments(snapshot, connection.node)
        except Exception as exc:
            self._build_failed(connection, "eds_builderr", exc)
            return
        changed = _changed_assignments(current.endpoints, assignments)
        if not changed:
            connection.config_revision = snapshot.revision
            return
        push = Push(version=snapshot.version, nonce=uuid.uuid4().hex, endpoints=changed)
        if self._send(connection, push, full=False, started=started):
            connection.config = replace(
                current, version=snapshot.version, endpoints=_merge(current.endpoints, changed)
            )
            connection.config_revision = snapshot.revision
            self.metrics.pushes.increment("eds")
            self.metrics.push_time.observe(max(self._clock() - began, 0.0))

    def _send(self, connection: ProxyConnection, push: Push, full: bool, started: float | None) -> bool:
        try:
            connection.send(dump(push))
        except Exception as exc:
            self.metrics.pushes.increment("cds_senderr" if full else "eds_senderr")
            connection.last_error = f"sending failed: {exc}"
            return False
        sent = SentPush(push.version, push.nonce, full, started)
        connection.last_push = sent
        if full:
            connection.last_full = sent
        return True

    def _build_failed(self, connection: ProxyConnection, kind: str, exc: Exception) -> None:
        self.metrics.pushes.increment(kind)
        connection.last_error = f"building the config failed: {type(exc).__name__}: {exc}"
        log.exception("building the config of proxy %s failed", connection.node.id)


def _outstanding(connection: ProxyConnection) -> list[SentPush]:
    """The last full push and the last push, once each (they are the same after a full push)."""
    pushes = [p for p in (connection.last_full, connection.last_push) if p is not None]
    return pushes[:1] if len(pushes) == 2 and pushes[0] is pushes[1] else pushes


def _changed_assignments(
    current: tuple[ClusterLoadAssignment, ...], new: tuple[ClusterLoadAssignment, ...]
) -> tuple[ClusterLoadAssignment, ...]:
    before = {a.cluster: a for a in current}
    return tuple(a for a in new if before.get(a.cluster) != a)


def _merge(
    current: tuple[ClusterLoadAssignment, ...], changed: tuple[ClusterLoadAssignment, ...]
) -> tuple[ClusterLoadAssignment, ...]:
    updates = {a.cluster: a for a in changed}
    merged = [updates.pop(a.cluster, a) for a in current]
    return tuple(merged) + tuple(updates.values())
