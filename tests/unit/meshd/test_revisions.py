"""The primary's side of revisions: followers' reports (checked, expiring) and the endpoints they use."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from mesh_runtime.ca import CAMetrics
from mesh_runtime.meshd.api import ConfigApiHandler
from mesh_runtime.meshd.monitoring import MonitoringHandler
from mesh_runtime.meshd.revisions import RevisionApi, Revisions, parse_export
from mesh_runtime.meshd.state import MeshState
from mesh_runtime.meshd.workloads import SavedWorkload, workloads_json
from mesh_runtime.xds import Node
from tests.unit.meshd.fakes import request
from tests.unit.meshd.test_api import TOKEN, VS, call

NODE = Node(
    id="reviews-v1.prod",
    type="sidecar",
    namespace="prod",
    workload="reviews-v1",
    service_account="bookinfo-reviews",
    address="10.0.0.7",
)


def report(**changes: Any) -> dict[str, Any]:
    body = {
        "version": "0.1.0",
        "discovery": "127.0.0.1:15112",
        "ttl": 0.05,
        "workloads": workloads_json([SavedWorkload(NODE, True)]),
        "proxies": [{"id": NODE.id, "proxy_version": "0.1.0", "type": "sidecar"}],
    }
    return body | changes


def handler(state: MeshState, follows: str = "") -> ConfigApiHandler:
    revisions = Revisions(state, "default", lambda: "127.0.0.1:15012", grace_period=0.05)
    return ConfigApiHandler(state, TOKEN, RevisionApi(state, revisions), follows=follows)


@pytest.mark.parametrize(
    ("revision", "body", "message"),
    [
        ("Canary", report(), "invalid revision 'Canary': use a DNS label"),
        ("default", report(), "this meshd is revision 'default' itself"),
        ("canary", [], "a report is {"),
        ("canary", report(version=1), "a report needs version and discovery"),
        ("canary", report(ttl=0), "a report's ttl must be a number of seconds above 0"),
        ("canary", report(ttl=float("inf")), "a report's ttl must be"),
        ("canary", report(proxies="x"), "a report's proxies must be a list of objects"),
        ("canary", report(workloads=[{"node": {}, "healthy": True}]), "workloads[0]: "),
    ],
)
def test_a_bad_report_is_refused_and_changes_nothing(
    loop: asyncio.AbstractEventLoop, state: MeshState, revision: str, body: Any, message: str
) -> None:
    api = handler(state)
    status, answer = call(loop, api, "PUT", f"/v1/revisions/{revision}", json.loads(json.dumps(body)))
    assert status == 422 and message in answer["error"], answer
    assert state.remote_workloads == {}
    assert [e["revision"] for e in call(loop, api, "GET", "/v1/revisions")[1]["items"]] == ["default"]


def test_a_report_registers_its_workloads_until_it_goes_silent(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    api = handler(state)
    assert call(loop, api, "PUT", "/v1/revisions/canary", report())[0] == 200
    assert [w.id for w in state.all_workloads()] == [NODE.id]
    revisions = call(loop, api, "GET", "/v1/revisions")[1]["items"]
    assert [(e["revision"], e["proxies"]) for e in revisions] == [("default", 0), ("canary", 1)]
    assert [r["revision"] for r in call(loop, api, "GET", "/v1/proxies")[1]["items"]] == ["canary"]
    # Not asked back by the revision that reported them; given to any other.
    assert call(loop, api, "GET", "/v1/workloads", query={"except": "canary"})[1]["items"] == []
    assert len(call(loop, api, "GET", "/v1/workloads", query={"except": "other"})[1]["items"]) == 1

    loop.run_until_complete(asyncio.sleep(0.08))  # the ttl passes: unhealthy, still registered
    assert [w.healthy for w in state.all_workloads()] == [False]
    assert [e["revision"] for e in call(loop, api, "GET", "/v1/revisions")[1]["items"]] == ["default"]
    loop.run_until_complete(asyncio.sleep(0.08))  # then the grace period: gone
    assert state.all_workloads() == []


def test_watch_returns_at_once_when_behind_and_on_the_next_change(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    api = handler(state)
    assert call(loop, api, "GET", "/v1/watch", query={"revision": "-1", "workloads": "0", "timeout": "5"})[
        1
    ] == {
        "revision": 0,
        "workloads": 0,
    }

    async def apply_soon() -> None:
        await asyncio.sleep(0.05)
        await api(_apply_request())

    task = loop.create_task(apply_soon())
    assert (
        call(loop, api, "GET", "/v1/watch", query={"revision": "0", "workloads": "0", "timeout": "5"})[1][
            "revision"
        ]
        == 1
    )
    loop.run_until_complete(task)
    assert call(loop, api, "GET", "/v1/watch", query={"revision": "x"})[0] == 400
    parsed = parse_export(call(loop, api, "GET", "/v1/export")[1])
    assert not isinstance(parsed, str)
    revision, objects, namespaces = parsed
    assert (revision, [o.name for o in objects], namespaces) == (1, ["reviews"], {"default": {}})


def test_a_follower_refuses_writes_naming_the_primary(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    api = handler(state, follows="https://10.0.0.1:15080")
    status, answer = call(loop, api, "POST", "/v1/apply", {"documents": VS, "source": "vs.yaml"})
    assert status == 405 and "https://10.0.0.1:15080" in answer["error"]
    assert call(loop, api, "DELETE", "/v1/namespaces/default")[0] == 405
    assert call(loop, api, "GET", "/v1/resources")[0] == 200
    assert state.store.revision == 0


def _apply_request() -> Any:
    body = json.dumps({"documents": VS, "source": "vs.yaml"}).encode()
    return request("POST", "/v1/apply", body, token=TOKEN)


def test_a_proxy_that_moved_counts_where_it_is_healthy(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    """Re-injected into the canary, a proxy leaves an unhealthy workload behind at the primary for the grace
    period; the canary's report of it, healthy, is what the mesh sees."""
    api = handler(state)
    state.proxies.grace_period = 30.0  # the unhealthy workload stays throughout

    async def connect_and_leave() -> None:
        connection = state.proxy_connected(NODE, lambda line: None, lambda reason: None)
        state.proxy_disconnected(connection)

    loop.run_until_complete(connect_and_leave())
    assert [w.healthy for w in state.all_workloads()] == [False]
    assert call(loop, api, "PUT", "/v1/revisions/canary", report(ttl=30))[0] == 200
    assert [w.healthy for w in state.all_workloads()] == [True]


def test_prometheus_finds_the_proxies_of_every_revision(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    revisions = Revisions(state, "default", lambda: "127.0.0.1:15012")
    api = ConfigApiHandler(state, TOKEN, RevisionApi(state, revisions))
    monitoring = MonitoringHandler(state, CAMetrics(), lambda: "127.0.0.1:15014", revisions)
    scraped = replace(NODE, stats_port=15090)
    body = report(ttl=30, workloads=workloads_json([SavedWorkload(scraped, True)]))
    assert call(loop, api, "PUT", "/v1/revisions/canary", body)[0] == 200
    response = loop.run_until_complete(monitoring(request("GET", "/v1/sd")))
    targets = {g["labels"].get("proxy"): g["targets"] for g in json.loads(response.body)}
    assert targets == {"reviews-v1.prod": ["10.0.0.7:15090"], None: ["127.0.0.1:15014"]}
