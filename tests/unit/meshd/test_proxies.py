"""The proxies' workloads across a meshd restart: kept on disk, restored as they were, served while the
proxies reconnect; a shutdown's own stream ends change nothing; those that never come back leave in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from mesh_runtime.discovery.push import ProxyConnection
from mesh_runtime.discovery.snapshot import MeshSettings
from mesh_runtime.discovery.store import ConfigStore, PutObject
from mesh_runtime.meshd.state import MeshState
from mesh_runtime.xds import Node
from mesh_runtime.xds.protocol import Push, load
from tests.unit.discovery.snapshots import sidecar

PRODUCTPAGE = sidecar("productpage-v1", "productpage", inbound_port=15106)
REVIEWS = sidecar("reviews-v1", "reviews", inbound_port=15126)
RATINGS = sidecar("ratings-v1", "ratings", inbound_port=15136)
REVIEWS_CLUSTER = "outbound|9080||reviews.default.svc.cluster.local"
REVIEWS_SERVICE = PutObject(
    "Service",
    "default",
    "reviews",
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]},
    },
)


def mesh_state(tmp_path: Path, reconnect_window: float = 60.0, expiry: float = 60.0) -> MeshState:
    return MeshState(
        ConfigStore(tmp_path / "store.db"),
        MeshSettings(),
        grace_period=expiry,
        reconnect_window=reconnect_window,
        workloads_file=tmp_path / "workloads.json",
    )


class Stream:
    """What a proxy's stream is to MeshState: the lines sent to it."""

    def __init__(self, state: MeshState, node: Node) -> None:
        self.sent: list[bytes] = []
        self.connection: ProxyConnection = state.proxy_connected(node, self.sent.append, lambda _: None)

    def first_push(self) -> Push:
        push = load(self.sent[0])
        assert isinstance(push, Push) and push.config is not None
        return push


def reviews_endpoints(push: Push) -> list[tuple[int, bool]]:
    assert push.config is not None
    (assignment,) = [a for a in push.config.endpoints if a.cluster == REVIEWS_CLUSTER]
    return [(e.port, e.healthy) for e in assignment.endpoints]


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_a_restart_serves_the_workloads_it_knew_to_the_first_proxy_back(tmp_path: Path) -> None:
    async def before_the_restart() -> None:
        state = mesh_state(tmp_path)
        await state.write([REVIEWS_SERVICE])
        reviews, ratings = Stream(state, REVIEWS), Stream(state, RATINGS)
        state.proxy_disconnected(ratings.connection)  # ratings left before the restart
        state.begin_shutdown()
        state.proxy_disconnected(reviews.connection)  # meshd closes the streams it has: nothing changes
        assert state.proxy_workloads[REVIEWS.id].healthy
        await state.close()

    async def after_the_restart() -> None:
        state = mesh_state(tmp_path)
        assert state.restore_workloads() == 2
        assert state.proxy_workloads[REVIEWS.id].healthy
        assert not state.proxy_workloads[RATINGS.id].healthy
        # productpage is back first: its config has reviews' endpoint, healthy, though reviews is not back.
        productpage = Stream(state, PRODUCTPAGE)
        assert reviews_endpoints(productpage.first_push()) == [(15126, True)]
        Stream(state, REVIEWS)  # and reviews comes back: nothing changes for anyone
        assert state.proxy_workloads[REVIEWS.id].healthy
        await state.close()

    asyncio.run(before_the_restart())
    asyncio.run(asyncio.wait_for(after_the_restart(), 10))


def test_a_restored_workload_whose_proxy_never_comes_back_goes_unhealthy_then_leaves(tmp_path: Path) -> None:
    async def before_the_restart() -> None:
        state = mesh_state(tmp_path)
        Stream(state, REVIEWS)
        Stream(state, RATINGS)
        await state.close()  # as after a SIGKILL: nobody told meshd the streams ended

    async def after_the_restart() -> None:
        state = mesh_state(tmp_path, reconnect_window=0.05, expiry=0.05)
        state.restore_workloads()
        Stream(state, RATINGS)  # ratings reconnects within the window; reviews never does
        await until(lambda: not state.proxy_workloads[REVIEWS.id].healthy)
        await until(lambda: REVIEWS.id not in state.proxy_workloads)
        assert state.proxy_workloads[RATINGS.id].healthy
        await state.close()

    asyncio.run(before_the_restart())
    asyncio.run(asyncio.wait_for(after_the_restart(), 10))

    # What is on disk follows: the next restart knows ratings only.
    async def third_start() -> list[str]:
        state = mesh_state(tmp_path)
        state.restore_workloads()
        ids = sorted(state.proxy_workloads)
        await state.close()
        return ids

    assert asyncio.run(third_start()) == [RATINGS.id]


def test_a_workload_unhealthy_at_the_restart_gets_a_whole_grace_period_to_come_back(tmp_path: Path) -> None:
    async def before_the_restart() -> None:
        state = mesh_state(tmp_path)
        stream = Stream(state, REVIEWS)
        state.proxy_disconnected(stream.connection)
        await state.close()

    async def after_the_restart() -> None:
        state = mesh_state(tmp_path, reconnect_window=0.01, expiry=60.0)
        state.restore_workloads()
        await asyncio.sleep(0.05)  # past the reconnect window: still there, unhealthy, until the grace ends
        assert not state.proxy_workloads[REVIEWS.id].healthy
        Stream(state, REVIEWS)
        assert state.proxy_workloads[REVIEWS.id].healthy
        await state.close()

    asyncio.run(before_the_restart())
    asyncio.run(asyncio.wait_for(after_the_restart(), 10))
