"""The push server: first pushes, debounced batches, endpoint-only pushes, ACK/NACK and proxy states."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mesh_runtime.discovery import push as push_module
from mesh_runtime.discovery.push import PushServer
from mesh_runtime.discovery.snapshot import Snapshot
from mesh_runtime.xds import Node
from mesh_runtime.xds.protocol import Ack, Nack, Push, load
from tests.unit.discovery.snapshots import bookinfo_sidecars, bookinfo_snapshot, sidecar

PRODUCTPAGE, DETAILS = bookinfo_sidecars()[:2]
VS_V1 = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews, subset: v1}}]}]}
"""


class FakeProxy:
    """The proxy end of a stream: collects the lines meshd sends."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.pushes: list[Push] = []
        self.closed: str | None = None

    def send(self, line: bytes) -> None:
        message = load(line)
        assert isinstance(message, Push)
        self.pushes.append(message)

    def close(self, reason: str) -> None:
        self.closed = reason


class World:
    def __init__(self, snap: Snapshot, **options: Any) -> None:
        self.snapshot = snap
        self.server = PushServer(lambda: self.snapshot, **options)

    def connect(self, node: Node) -> tuple[FakeProxy, push_module.ProxyConnection]:
        proxy = FakeProxy(node)
        connection = self.server.connect(node, proxy.send, proxy.close)
        return proxy, connection


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=20))


def test_first_push_then_ack_makes_the_proxy_synced() -> None:
    world = World(bookinfo_snapshot())
    proxy, connection = world.connect(PRODUCTPAGE)
    assert connection.status == "NOT SENT"
    world.server.push_initial(connection)
    (first,) = proxy.pushes
    assert (
        first.config is not None
        and first.config.node == PRODUCTPAGE
        and first.version == world.snapshot.version
    )
    assert connection.status == "STALE"
    world.server.acknowledge(connection, Ack("other", "wrong-nonce"))
    assert connection.status == "STALE"
    world.server.acknowledge(connection, Ack(first.version, first.nonce))
    row = connection.row()
    assert (row["state"], row["cds"], row["eds"]) == ("SYNCED", "SYNCED", "SYNCED")
    assert (row["sent_version"], row["acked_version"], row["id"]) == (
        first.version,
        first.version,
        PRODUCTPAGE.id,
    )
    assert world.server.metrics.pushes.value("cds") == 1
    assert world.server.metrics.xds.value() == 1


def test_a_nack_leaves_the_proxy_stale_with_its_reason() -> None:
    world = World(bookinfo_snapshot())
    proxy, connection = world.connect(PRODUCTPAGE)
    world.server.push_initial(connection)
    push = proxy.pushes[0]
    world.server.reject(connection, Nack(push.version, push.nonce, "route reviews: no such cluster"))
    row = connection.row()
    assert (row["state"], row["last_error"]) == ("STALE", "route reviews: no such cluster")
    assert world.server.metrics.rejects.value("lds") == 1


def test_changes_are_debounced_into_one_batch() -> None:
    async def scenario() -> None:
        world = World(bookinfo_snapshot(), debounce_after=0.05, debounce_max=30)
        proxy, connection = world.connect(PRODUCTPAGE)
        world.server.push_initial(connection)
        task = asyncio.create_task(world.server.run())
        world.snapshot = bookinfo_snapshot(VS_V1)
        for _ in range(5):
            world.server.notify(True, "config")
        await world.server.wait_for_batches(1)
        assert world.server.batches == 1
        assert len(proxy.pushes) == 2 and proxy.pushes[1].config is not None
        assert world.server.metrics.push_triggers.value("config") == 1
        task.cancel()

    run(scenario)


def test_a_batch_is_pushed_at_the_latest_after_the_maximum_delay() -> None:
    async def scenario() -> None:
        world = World(bookinfo_snapshot(), debounce_after=3600, debounce_max=0.01)
        task = asyncio.create_task(world.server.run())
        world.server.notify(False, "endpoint")
        await world.server.wait_for_batches(1)
        task.cancel()

    run(scenario)


def test_registry_changes_push_only_the_changed_endpoints() -> None:
    world = World(bookinfo_snapshot())
    proxy, connection = world.connect(PRODUCTPAGE)
    world.server.push_initial(connection)
    config = proxy.pushes[0].config
    assert config is not None
    # A second ratings replica connects.
    world.snapshot = bookinfo_snapshot(extra_nodes=[sidecar("ratings-v1b", "ratings", "v1", 19099, 15199)])
    world.server.push_all(push_module.Change(False, 0.0))
    endpoint_push = proxy.pushes[1]
    assert endpoint_push.config is None
    assert [a.cluster for a in endpoint_push.endpoints] == [
        "outbound|9080||ratings.default.svc.cluster.local"
    ]
    assert len(endpoint_push.endpoints[0].endpoints) == 2
    assert connection.config is not None and connection.config.clusters == config.clusters
    merged = {a.cluster: a for a in connection.config.endpoints}
    assert merged["outbound|9080||ratings.default.svc.cluster.local"] == endpoint_push.endpoints[0]
    assert connection.config_status == "STALE" and connection.endpoint_status == "STALE"
    world.server.acknowledge(connection, Ack(endpoint_push.version, endpoint_push.nonce))
    assert connection.endpoint_status == "SYNCED"
    # Nothing changed: nothing is sent.
    world.server.push_all(push_module.Change(False, 0.0))
    world.server.push_all(push_module.Change(True, 0.0))
    assert len(proxy.pushes) == 2


def test_a_config_change_reaches_only_the_proxies_it_changes() -> None:
    world = World(bookinfo_snapshot())
    productpage, productpage_connection = world.connect(PRODUCTPAGE)
    client, client_connection = world.connect(sidecar("client", "client", namespace="other", inbound_port=0))
    for connection in (productpage_connection, client_connection):
        world.server.push_initial(connection)
    # A VirtualService exported to its own namespace only: the client in `other` does not see it.
    private = VS_V1.replace("spec: {hosts: [reviews],", 'spec: {exportTo: ["."], hosts: [reviews],')
    world.snapshot = bookinfo_snapshot(private)
    world.server.push_all(push_module.Change(True, 0.0))
    assert len(productpage.pushes) == 2 and len(client.pushes) == 1


def test_a_second_stream_for_the_same_proxy_replaces_the_first() -> None:
    world = World(bookinfo_snapshot())
    first_proxy, first = world.connect(PRODUCTPAGE)
    _, second = world.connect(PRODUCTPAGE)
    assert first_proxy.closed is not None and "connected again" in first_proxy.closed
    assert not world.server.disconnect(first)
    assert world.server.connections[PRODUCTPAGE.id] is second
    assert world.server.disconnect(second) and world.server.connections == {}


def test_a_builder_failure_is_counted_and_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(bookinfo_snapshot())
    broken, broken_connection = world.connect(PRODUCTPAGE)
    fine, fine_connection = world.connect(DETAILS)
    real = push_module.build_proxy_config

    def build(snap: Snapshot, node: Node) -> Any:
        if node.id == PRODUCTPAGE.id:
            raise RuntimeError("boom")
        return real(snap, node)

    monkeypatch.setattr(push_module, "build_proxy_config", build)
    world.server.push_all(push_module.Change(True, 0.0))
    assert broken.pushes == [] and len(fine.pushes) == 1
    assert "RuntimeError: boom" in broken_connection.last_error
    assert world.server.metrics.pushes.value("cds_builderr") == 1
    del fine_connection


# -- distribution: which proxies serve a config that includes a store revision ---------------------------

VS_ELSEWHERE = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: other}
spec: {hosts: [shop.other.svc.cluster.local], exportTo: ["."], http: [{route: [{destination: {host: shop}}]}]}
"""


def acknowledge_last(world: World, proxy: FakeProxy, connection: push_module.ProxyConnection) -> None:
    push = proxy.pushes[-1]
    world.server.acknowledge(connection, Ack(push.version, push.nonce))


def test_a_revision_is_distributed_once_every_proxy_acknowledged_a_config_that_includes_it() -> None:
    world = World(bookinfo_snapshot())
    revision = world.snapshot.revision
    first, first_connection = world.connect(PRODUCTPAGE)
    second, second_connection = world.connect(DETAILS)
    assert world.server.distribution(revision) == push_module.Distribution(0, 2)
    world.server.push_initial(first_connection)
    world.server.push_initial(second_connection)
    assert world.server.distribution(revision).current == 0  # sent, not yet acknowledged
    acknowledge_last(world, first, first_connection)
    assert world.server.distribution(revision) == push_module.Distribution(1, 2)
    acknowledge_last(world, second, second_connection)
    assert world.server.distribution(revision).complete
    assert first_connection.row()["config_revision"] == revision
    assert not world.server.distribution(revision + 1).complete  # a later write has reached nobody


def test_a_change_a_proxy_does_not_see_is_distributed_to_it_without_a_push() -> None:
    world = World(bookinfo_snapshot())
    proxy, connection = world.connect(PRODUCTPAGE)
    world.server.push_initial(connection)
    acknowledge_last(world, proxy, connection)
    world.snapshot = bookinfo_snapshot(VS_ELSEWHERE)
    world.server.notify(True, "config", since=world.snapshot.revision - 1)
    assert not world.server.distribution(world.snapshot.revision).complete
    world.server.push_all(push_module.Change(True, 0.0))
    assert len(proxy.pushes) == 1  # nothing it sees changed: nothing sent
    assert world.server.distribution(world.snapshot.revision).complete


def test_an_endpoint_push_before_a_config_change_is_announced_does_not_count_as_its_distribution() -> None:
    world = World(bookinfo_snapshot())
    proxy, connection = world.connect(PRODUCTPAGE)
    world.server.push_initial(connection)
    acknowledge_last(world, proxy, connection)
    before = world.snapshot.revision
    # A route change is stored; an endpoint batch runs before the change is announced.
    world.snapshot = bookinfo_snapshot(VS_V1)
    world.server.push_all(push_module.Change(False, 0.0))
    world.server.notify(True, "config", since=before)
    assert not world.server.distribution(world.snapshot.revision).complete
    world.server.push_all(push_module.Change(True, 0.0))
    assert not world.server.distribution(world.snapshot.revision).complete  # sent, not acknowledged
    acknowledge_last(world, proxy, connection)
    assert world.server.distribution(world.snapshot.revision).complete


def test_a_proxy_that_rejected_the_config_is_named() -> None:
    world = World(bookinfo_snapshot())
    proxy, connection = world.connect(PRODUCTPAGE)
    world.server.push_initial(connection)
    push = proxy.pushes[0]
    world.server.reject(connection, Nack(push.version, push.nonce, "no such cluster"))
    assert world.server.distribution(world.snapshot.revision) == push_module.Distribution(
        0, 1, (PRODUCTPAGE.id,)
    )
