"""MeshState: which writes trigger which pushes, snapshots cached per revision, proxies registered."""

from __future__ import annotations

import asyncio

from mesh_runtime.discovery.store import PutNamespace, PutObject
from mesh_runtime.meshd.state import MeshState
from tests.unit.discovery.snapshots import sidecar

SERVICE = PutObject(
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
ENTRY = PutObject(
    "WorkloadEntry",
    "default",
    "vm",
    {
        "apiVersion": "networking.istio.io/v1",
        "kind": "WorkloadEntry",
        "metadata": {"name": "vm", "namespace": "default"},
        "spec": {"address": "10.0.0.1", "labels": {"app": "reviews"}},
    },
)


def pending(state: MeshState) -> object:
    return state.push._pending  # noqa: SLF001 (what the next batch will push)


def test_writes_notify_the_push_server_by_what_changed(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    async def scenario() -> None:
        await state.write([PutNamespace("default", labels={"istio-injection": "enabled"})])
        assert pending(state) is None  # namespace labels change nothing a proxy sees
        await state.write([ENTRY])
        change = pending(state)
        assert change is not None and not change.full  # type: ignore[attr-defined]
        await state.write([SERVICE])
        assert pending(state).full  # type: ignore[union-attr]
        state.push._pending = None  # noqa: SLF001
        await state.write([SERVICE])
        assert pending(state) is None  # unchanged: nothing to push
        await state.write([SERVICE], dry_run=True)
        assert pending(state) is None

    loop.run_until_complete(scenario())


def test_snapshots_are_built_once_per_revision(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    async def scenario() -> None:
        first = state.snapshot()
        assert state.snapshot() is first
        await state.write([SERVICE, ENTRY])
        second = state.snapshot()
        assert second is not first and second.revision == 1
        assert [s.hostname for s in second.services] == ["reviews.default.svc.cluster.local"]
        state.proxy_connected(
            sidecar("reviews-v1", "reviews", inbound_port=15126), lambda _: None, lambda _: None
        )
        third = state.snapshot()
        assert third.registry_version == 1 and {w.id for w in third.workloads} == {
            "vm.default",
            "reviews-v1.default",
        }
        assert state.push.metrics.services.value() == 1

    loop.run_until_complete(scenario())


def test_a_proxy_in_a_new_namespace_creates_it(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    async def scenario() -> None:
        node = sidecar("client", "client", namespace="fresh", inbound_port=0)
        state.proxy_connected(node, lambda _: None, lambda _: None)
        while state.store.namespace("fresh") is None:
            await asyncio.sleep(0.01)

    loop.run_until_complete(asyncio.wait_for(scenario(), 10))
