"""The config API handler: authentication, apply all-or-nothing, resources, namespaces, registry, proxies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mesh_runtime.discovery.push import Change, ProxyConnection
from mesh_runtime.meshd.api import ConfigApiHandler
from mesh_runtime.meshd.http import Response
from mesh_runtime.meshd.state import MeshState
from mesh_runtime.xds.protocol import Ack, Nack, Push, load
from tests.unit.discovery.snapshots import bookinfo_sidecars
from tests.unit.meshd.fakes import request

TOKEN = "admin-secret"
SERVICE = """apiVersion: v1
kind: Service
metadata: {name: reviews, labels: {app: reviews}}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
"""
VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}
"""


def call(
    loop: asyncio.AbstractEventLoop,
    handler: ConfigApiHandler,
    method: str,
    path: str,
    body: Any = None,
    **kw: Any,
) -> tuple[int, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    response = loop.run_until_complete(
        handler(request(method, path, raw, token=kw.pop("token", TOKEN), **kw))
    )
    assert isinstance(response, Response)
    return response.status, json.loads(response.body) if response.body else None


def test_every_request_needs_the_admin_token(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    handler = ConfigApiHandler(state, TOKEN)
    assert call(loop, handler, "GET", "/v1/resources", token="wrong")[0] == 401
    response = loop.run_until_complete(handler(request("GET", "/v1/resources")))
    assert isinstance(response, Response) and response.status == 401
    assert call(loop, handler, "GET", "/v2/nothing")[0] == 404
    assert call(loop, handler, "POST", "/v1/resources")[0] == 404


def test_apply_then_read_and_delete(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    handler = ConfigApiHandler(state, TOKEN)
    status, body = call(
        loop,
        handler,
        "POST",
        "/v1/apply",
        {"files": [{"documents": SERVICE, "source": "a.yaml"}, {"documents": VS}]},
    )
    assert status == 200
    assert [(r["kind"], r["result"]) for r in body["results"]] == [
        ("Service", "created"),
        ("VirtualService", "created"),
    ]
    assert (
        call(loop, handler, "POST", "/v1/apply", {"documents": VS})[1]["results"][0]["result"] == "unchanged"
    )
    status, listed = call(loop, handler, "GET", "/v1/resources", query={"kind": "virtualservices"})
    assert [i["metadata"]["name"] for i in listed["items"]] == ["reviews"]
    everything = call(loop, handler, "GET", "/v1/resources", query={"namespace": "default"})[1]["items"]
    assert [i["kind"] for i in everything] == ["Service", "VirtualService"]
    assert call(loop, handler, "GET", "/v1/resources/VirtualService/default/reviews")[1]["spec"]["hosts"] == [
        "reviews"
    ]
    assert call(loop, handler, "GET", "/v1/resources/VirtualService/default/nope")[0] == 404
    assert call(loop, handler, "GET", "/v1/resources/Nonsense/default/x")[0] == 404
    revision_before = listed["revision"]
    assert call(loop, handler, "DELETE", "/v1/resources/VirtualService/default/reviews")[0] == 200
    assert call(loop, handler, "DELETE", "/v1/resources/VirtualService/default/reviews")[0] == 404
    # The listing carries the store's revision, which a delete moves on though no item is left to show it.
    after = call(loop, handler, "GET", "/v1/resources")[1]
    assert after["revision"] == revision_before + 1
    assert all(int(i["metadata"]["resourceVersion"]) < after["revision"] for i in after["items"])


def test_an_invalid_document_rejects_the_whole_apply(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    handler = ConfigApiHandler(state, TOKEN)
    broken = VS.replace("reviews}\nspec", "broken}\nspec").replace("{route:", "{timeout: later, route:")
    status, body = call(
        loop, handler, "POST", "/v1/apply", {"documents": SERVICE + "---\n" + broken, "source": "x.yaml"}
    )
    assert status == 422
    (error,) = body["errors"]
    assert (error["source"], error["resource"], error["path"]) == (
        "x.yaml",
        "VirtualService default/broken",
        "spec.http[0].timeout",
    )
    assert state.store.objects() == [] and state.store.revision == 0
    assert call(loop, handler, "POST", "/v1/apply", {"nothing": 1})[0] == 400
    assert (
        call(loop, handler, "POST", "/v1/apply", {"documents": VS}, query={"dry_run": "true"})[1]["dry_run"]
        is True
    )
    assert state.store.objects() == []


def test_namespaces_labels_and_conflicts(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    handler = ConfigApiHandler(state, TOKEN)
    patch = {"labels": {"istio-injection": "enabled"}}
    assert call(loop, handler, "PATCH", "/v1/namespaces/prod", patch)[1]["result"] == "created"
    assert call(loop, handler, "PATCH", "/v1/namespaces/prod", patch)[1]["result"] == "unchanged"
    status, body = call(
        loop, handler, "PATCH", "/v1/namespaces/prod", {"labels": {"istio-injection": "disabled"}}
    )
    assert status == 409 and "--overwrite is false" in body["error"]
    overwrite = {"labels": {"istio-injection": "disabled"}, "overwrite": True}
    assert call(loop, handler, "PATCH", "/v1/namespaces/prod", overwrite)[1]["result"] == "configured"
    assert call(loop, handler, "PATCH", "/v1/namespaces/prod", {"labels": {"bad key!": "x"}})[0] == 422
    assert call(loop, handler, "GET", "/v1/namespaces/prod")[1]["metadata"]["labels"] == {
        "istio-injection": "disabled"
    }
    assert [n["metadata"]["name"] for n in call(loop, handler, "GET", "/v1/namespaces")[1]["items"]] == [
        "prod"
    ]
    assert call(loop, handler, "DELETE", "/v1/namespaces/prod")[0] == 200
    assert call(loop, handler, "GET", "/v1/namespaces/prod")[0] == 404


def test_registry_and_proxies(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    handler = ConfigApiHandler(state, TOKEN)
    entry = """apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm, labels: {app: reviews}}
spec: {address: 10.0.0.1, ports: {http: 8080}}
"""
    call(loop, handler, "POST", "/v1/apply", {"documents": SERVICE + "---\n" + entry})
    registry = call(loop, handler, "GET", "/v1/registry")[1]
    (service,) = registry["services"]
    assert service["hostname"] == "reviews.default.svc.cluster.local"
    assert service["ports"] == [{"name": "http", "port": 9080, "targetPort": 9080, "protocol": "HTTP"}]
    (workload,) = registry["workloads"]
    assert (workload["kind"], workload["hasSidecar"], workload["ports"], workload["nodeName"]) == (
        "WorkloadEntry",
        False,
        {"http": 8080},
        "",
    )
    assert registry["namespaces"] == [{"name": "default", "labels": {}}]
    assert call(loop, handler, "GET", "/v1/proxies")[1] == {"items": []}
    assert call(loop, handler, "GET", "/v1/proxies/x.default/config")[0] == 404


def test_istio_kinds_carry_a_reconciled_condition_kubernetes_kinds_none(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    handler = ConfigApiHandler(state, TOKEN)
    call(loop, handler, "POST", "/v1/apply", {"documents": SERVICE + "---\n" + VS})
    vs = call(loop, handler, "GET", "/v1/resources/VirtualService/default/reviews")[1]
    assert vs["status"] == {
        "conditions": [
            {
                "type": "Reconciled",
                "status": "True",
                "reason": "ProxiesUpToDate",
                "message": "0/0 proxies up to date.",
            }
        ]
    }
    assert "status" not in call(loop, handler, "GET", "/v1/resources/Service/default/reviews")[1]
    assert call(loop, handler, "GET", "/v1/namespaces/default")[1]["status"] == {"phase": "Active"}
    listed = call(loop, handler, "GET", "/v1/resources")[1]["items"]
    assert [("status" in item) for item in listed] == [False, True]


def test_reconciled_follows_the_proxies_acknowledgements(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    handler = ConfigApiHandler(state, TOKEN)
    sent: list[bytes] = []
    (node,) = bookinfo_sidecars()[:1]

    async def connect() -> ProxyConnection:
        return state.proxy_connected(node, sent.append, lambda reason: None)

    connection = loop.run_until_complete(connect())
    call(loop, handler, "POST", "/v1/apply", {"documents": SERVICE + "---\n" + VS})

    def reconciled() -> dict[str, Any]:
        document = call(loop, handler, "GET", "/v1/resources/VirtualService/default/reviews")[1]
        (condition,) = document["status"]["conditions"]
        return dict(condition)

    assert reconciled() == {
        "type": "Reconciled",
        "status": "False",
        "reason": "ProxiesPending",
        "message": "0/1 proxies up to date.",
    }
    state.push.push_all(Change(True, 0.0))
    push = load(sent[-1])
    assert isinstance(push, Push)
    state.push.reject(connection, Nack(push.version, push.nonce, "no such cluster"))
    assert (reconciled()["reason"], reconciled()["status"]) == ("ProxyRejected", "False")
    assert node.id in reconciled()["message"]
    state.push.push_all(Change(True, 0.0))  # nothing changed since: nothing new is sent
    state.push.acknowledge(connection, Ack(push.version, push.nonce))
    assert reconciled() == {
        "type": "Reconciled",
        "status": "True",
        "reason": "ProxiesUpToDate",
        "message": "1/1 proxies up to date.",
    }
