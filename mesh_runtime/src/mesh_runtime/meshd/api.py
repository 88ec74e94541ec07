"""Port 15080 (HTTPS, admin token): the config API meshctl speaks.

    POST   /v1/apply[?dry_run=true]            {"documents": text, "source": name, "namespace": ns?}
    GET    /v1/resources[?kind=K&namespace=N]  {"items": [...], "revision": <store revision>}
    GET    /v1/resources/<Kind>/<ns>/<name>
    DELETE /v1/resources/<Kind>/<ns>/<name>
    GET    /v1/namespaces  |  GET, PATCH, DELETE /v1/namespaces/<name>
    GET    /v1/registry    |  GET /v1/proxies  |  GET /v1/proxies/<id>/config
    /v1/watch, /v1/export, /v1/workloads, /v1/revisions[/<rev>]: other revisions' control planes
                                               (revisions.py)

A follower (another revision's meshd, mirroring the primary) refuses writes with 405 and names the primary.
`/v1/proxies` lists the proxies of every revision, each with its `revision`.

Errors are `{"error": "..."}` (apply's are `{"errors": [{source, line, resource, path, message}]}`), with
Kubernetes' statuses: 401 bad token, 404 not found, 409 label conflict, 422 invalid.

A resource of one of Istio's kinds comes with a `status` computed when it is read, as Istio's
config-distribution tracking reports it: the condition `Reconciled`, `True` once every connected proxy
serves a config that includes the resource's revision (`message: "2/2 proxies up to date."`, reason
`ProxiesUpToDate`), else `False` (reason `ProxyRejected` when a proxy rejected such a config, else
`ProxiesPending`). Kubernetes' kinds have no conditions: a Namespace has `status.phase`, a Service none.
"""

from __future__ import annotations

import hmac
from typing import Any

from ..discovery.documents import (
    STORED_KINDS,
    Prepared,
    kind_named,
    namespace_document,
    object_document,
    prepare,
    sorted_documents,
)
from ..discovery.push import Distribution
from ..discovery.registry import Workload
from ..discovery.store import LabelConflict, PutNamespace, StoredObject, StoreError
from ..resources import kinds as k
from ..validation.formats import label_key, label_value
from ..xds import encode
from .http import Request, Response, error_response, json_response
from .revisions import DEFAULT_REVISION, RevisionApi, Revisions
from .state import MeshState

_WRITES = {("POST", "apply"), ("DELETE", "resources"), ("DELETE", "namespaces"), ("PATCH", "namespaces")}


class ConfigApiHandler:
    def __init__(
        self, state: MeshState, admin_token: str, revisions: RevisionApi | None = None, follows: str = ""
    ) -> None:
        self.state = state
        self._token = admin_token
        self.revisions = revisions or RevisionApi(state, Revisions(state, DEFAULT_REVISION, lambda: ""))
        #: A follower: the URL of the primary whose config it mirrors (and where writes go).
        self.follows = follows

    async def __call__(self, request: Request) -> Response:
        token = request.bearer_token()
        if token is None or not hmac.compare_digest(token.encode(), self._token.encode()):
            return error_response(401, "the admin token is missing or wrong (Authorization: Bearer <token>)")
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] != ["v1"]:
            return error_response(404, f"no such endpoint: {request.path}")
        try:
            return await self._route(request, parts[1:])
        except StoreError as exc:
            return error_response(500, str(exc))

    async def _route(self, request: Request, parts: list[str]) -> Response:
        method = request.method
        if self.follows and (method, parts[0] if parts else "") in _WRITES:
            return error_response(
                405,
                f"this meshd is revision {self.revisions.revisions.revision!r} and mirrors its config from "
                f"{self.follows}: write there (meshctl --control-plane <its address>)",
            )
        answer = await self.revisions.route(request, parts)
        if answer is not None:
            return answer
        match parts:
            case ["apply"] if method == "POST":
                return await self.apply(request)
            case ["resources"] if method == "GET":
                return self.list_resources(request.query.get("kind"), request.query.get("namespace"))
            case ["resources", kind, namespace, name] if method in ("GET", "DELETE"):
                return await self.one_resource(method, kind, namespace, name)
            case ["namespaces"] if method == "GET":
                return json_response(
                    200, {"items": [namespace_document(n) for n in self.state.store.namespaces()]}
                )
            case ["namespaces", name] if method in ("GET", "PATCH", "DELETE"):
                return await self.one_namespace(request, name)
            case ["registry"] if method == "GET":
                return json_response(200, self.registry())
            case ["proxies"] if method == "GET":
                return json_response(200, {"items": self.revisions.revisions.proxy_rows()})
            case ["proxies", proxy_id, "config"] if method == "GET":
                return self.proxy_config(proxy_id)
        return error_response(404, f"no such endpoint: {method} {request.path}")

    # -- apply ----------------------------------------------------------------------------------------------

    async def apply(self, request: Request) -> Response:
        """Apply `{"documents", "source"}` or `{"files": [{"documents", "source"}, ...]}`: all or nothing."""
        try:
            body = request.json()
        except ValueError as exc:
            return error_response(400, str(exc))
        files = _apply_files(body)
        if files is None:
            return error_response(
                400,
                'the body must be {"documents": "<YAML or JSON text>", "source": "<name>"} '
                'or {"files": [{"documents": ..., "source": ...}, ...]}',
            )
        namespace = body.get("namespace")
        prepared = Prepared()
        for text, source in files:
            prepared.extend(
                prepare(text, source, namespace if isinstance(namespace, str) and namespace else None)
            )
        warnings = [w.as_json() for w in prepared.warnings]
        if prepared.errors:
            return json_response(
                422, {"errors": [e.as_json() for e in prepared.errors], "warnings": warnings}
            )
        dry_run = request.query.get("dry_run", "").lower() in ("true", "1", "all")
        results = await self.state.write(prepared.ordered_writes(), dry_run=dry_run)
        outcomes = {(r.kind, r.namespace, r.name): r.outcome for r in results}
        items = []
        for kind, group, ns, name in prepared.documents:
            outcome = outcomes.get((kind, "" if kind == "Namespace" else ns, name), "unchanged")
            items.append({"kind": kind, "group": group, "namespace": ns, "name": name, "result": outcome})
        return json_response(200, {"results": items, "warnings": warnings, "dry_run": dry_run})

    # -- resources ------------------------------------------------------------------------------------------

    def list_resources(self, kind_name: str | None, namespace: str | None) -> Response:
        store = self.state.store
        if kind_name is not None:
            kind = kind_named(kind_name)
            if kind is None:
                return error_response(404, _unknown_kind(kind_name))
            if kind == k.NAMESPACE:
                return json_response(200, {"items": [namespace_document(n) for n in store.namespaces()]})
            items = [self.document(o) for o in store.objects(kind.kind, namespace or None)]
        else:
            items = [self.document(o) for o in store.objects(None, namespace or None)]
        # The revision moves on with deletes too, which leave no item carrying it.
        return json_response(200, {"items": sorted_documents(items), "revision": store.revision})

    async def one_resource(self, method: str, kind_name: str, namespace: str, name: str) -> Response:
        kind = kind_named(kind_name)
        if kind is None:
            return error_response(404, _unknown_kind(kind_name))
        if kind == k.NAMESPACE:
            return error_response(400, "namespaces are at /v1/namespaces/<name>")
        if method == "DELETE":
            if await self.state.delete(kind.kind, namespace, name):
                return json_response(
                    200, {"kind": kind.kind, "namespace": namespace, "name": name, "result": "deleted"}
                )
            return error_response(404, _not_found(kind.kind, namespace, name))
        stored = self.state.store.get(kind.kind, namespace, name)
        if stored is None:
            return error_response(404, _not_found(kind.kind, namespace, name))
        return json_response(200, self.document(stored))

    def document(self, stored: StoredObject) -> dict[str, Any]:
        """A stored resource as `get` shows it; one of Istio's kinds with its status."""
        document = object_document(stored)
        kind = kind_named(stored.kind)
        if kind is not None and kind.group in k.ISTIO_GROUPS:
            document["status"] = resource_status(self.state.push.distribution(stored.revision))
        return document

    async def one_namespace(self, request: Request, name: str) -> Response:
        store = self.state.store
        if request.method == "GET":
            record = store.namespace(name)
            if record is None:
                return error_response(404, f'namespaces "{name}" not found')
            return json_response(200, namespace_document(record))
        if request.method == "DELETE":
            doomed = await self.state.delete_namespace(name)
            if doomed is None:
                return error_response(404, f'namespaces "{name}" not found')
            return json_response(
                200, {"kind": "Namespace", "name": name, "result": "deleted", "deleted": len(doomed)}
            )
        return await self.label_namespace(request, name)

    async def label_namespace(self, request: Request, name: str) -> Response:
        try:
            body = request.json()
        except ValueError as exc:
            return error_response(400, str(exc))
        labels = body.get("labels") if isinstance(body, dict) else None
        if not isinstance(labels, dict):
            return error_response(
                400, 'the body must be {"labels": {"key": "value" | null}, "overwrite": bool}'
            )
        problems = _label_problems(name, labels)
        if problems:
            return json_response(422, {"errors": problems})
        write = PutNamespace(name, label_changes=labels, overwrite=body.get("overwrite") is True)
        try:
            (result,) = await self.state.write([write])
        except LabelConflict as exc:
            return error_response(409, str(exc))
        return json_response(200, {"kind": "Namespace", "name": name, "result": result.outcome})

    # -- registry and proxies -------------------------------------------------------------------------------

    def registry(self) -> dict[str, Any]:
        snapshot = self.state.snapshot()
        return {
            "namespaces": [{"name": n.name, "labels": dict(n.labels)} for n in snapshot.namespaces.values()],
            "services": [
                {
                    "namespace": s.namespace,
                    "name": s.name,
                    "hostname": s.hostname(snapshot.settings.domain),
                    "ports": [
                        {"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": p.protocol}
                        for p in s.ports
                    ],
                    "selector": dict(s.selector),
                    "labels": dict(s.labels),
                }
                for s in snapshot.registry_services
            ],
            "workloads": [_workload_json(w) for w in snapshot.workloads],
        }

    def proxy_config(self, proxy_id: str) -> Response:
        connection = self.state.push.connections.get(proxy_id)
        if connection is None:
            return error_response(404, f"no proxy {proxy_id!r} is connected; see meshctl proxy-status")
        if connection.config is None:
            return error_response(404, f"proxy {proxy_id!r} has not been sent a config yet")
        return json_response(
            200,
            {
                "id": proxy_id,
                "state": connection.status,
                "acked_version": connection.acked_version,
                "admin_port": connection.node.admin_port,
                "config": encode(connection.config),
            },
        )


RECONCILED = "Reconciled"


def resource_status(distribution: Distribution) -> dict[str, Any]:
    """The status of a resource whose revision has reached the proxies as `distribution` says."""
    message = f"{distribution.current}/{distribution.total} proxies up to date."
    if distribution.complete:
        reason = "ProxiesUpToDate"
    elif distribution.rejected:
        reason = "ProxyRejected"
        message += f" Rejected by {', '.join(distribution.rejected)} (see meshctl proxy-status -o json)."
    else:
        reason = "ProxiesPending"
    condition = {
        "type": RECONCILED,
        "status": "True" if distribution.complete else "False",
        "reason": reason,
        "message": message,
    }
    return {"conditions": [condition]}


def _apply_files(body: Any) -> list[tuple[str, str]] | None:
    """(text, source) of each file in an apply request; None when the body is not one."""
    if not isinstance(body, dict):
        return None
    entries = body.get("files") if "files" in body else [body]
    if not isinstance(entries, list) or not entries:
        return None
    files: list[tuple[str, str]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("documents"), str):
            return None
        source = entry.get("source")
        files.append((entry["documents"], source if isinstance(source, str) and source else "-"))
    return files


def _workload_json(workload: Workload) -> dict[str, Any]:
    return {
        "id": workload.id,
        "name": workload.name,
        "namespace": workload.namespace,
        "kind": workload.kind,
        "serviceAccount": workload.service_account,
        "labels": dict(workload.labels),
        "address": workload.address,
        "ports": dict(workload.ports),
        "inboundPorts": {str(app): listener for app, listener in workload.inbound_ports.items()},
        "hasSidecar": workload.has_sidecar,
        "proxyVersion": workload.proxy_version,
        "healthy": workload.healthy,
        "nodeName": workload.node_name,
    }


def _label_problems(namespace: str, labels: dict[str, Any]) -> list[dict[str, Any]]:
    problems = []
    for key, value in labels.items():
        problem = label_key(key) or (
            None
            if value is None
            else label_value(value)
            if isinstance(value, str)
            else "label values are strings"
        )
        if problem:
            problems.append(
                {
                    "source": "",
                    "line": 0,
                    "resource": f"Namespace {namespace}",
                    "path": f"metadata.labels.{key}",
                    "message": problem,
                }
            )
    return problems


def _unknown_kind(name: str) -> str:
    return f"the server doesn't have a resource type {name!r}; meshd stores {', '.join(STORED_KINDS)}"


def _not_found(kind: str, namespace: str, name: str) -> str:
    return f'{kind} "{name}" not found in namespace {namespace}'
