"""Control planes of other revisions, as the primary meshd knows them (Istio's canary upgrade).

A second meshd of another revision (`meshd serve --revision canary --follow <primary>`, `follower.py`) serves
the proxies of the namespaces labelled `istio.io/rev: canary`. It mirrors the primary's config and workloads
through the endpoints below, and reports its own proxies' workloads and sync state, so that every proxy of
every revision reaches every workload and `meshctl version` / `proxy-status` show all of them:

    GET /v1/watch?revision=R&workloads=W[&timeout=S]  returns when the store's revision or the registry's
                                                      version is no longer R / W, or after S seconds (25)
    GET /v1/export                                    the stored resources and namespaces, as applied
    GET /v1/workloads[?except=REV]                    the proxies' workloads of every revision but REV
    PUT /v1/revisions/<rev>                           a follower's report: version, discovery address,
                                                      its proxies' workloads and rows, how long it holds
    GET /v1/revisions                                 every revision's control plane, this one first

A report holds for its `ttl`; a follower that stops reporting is gone: its workloads turn unhealthy (no
traffic goes to them) and are removed after the grace period, as those of a proxy whose stream ended.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..discovery.frozen import thaw
from ..discovery.store import PutObject
from .http import Request, Response, error_response, json_response
from .proxies import GRACE_PERIOD
from .state import MeshState
from .workloads import SavedWorkload, workloads_from_json, workloads_json

DEFAULT_REVISION = "default"
_REVISION = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\Z")
WATCH_TIMEOUT = 25.0
MAX_WATCH_TIMEOUT = 60.0
MAX_REPORT_TTL = 300.0


@dataclass(frozen=True, slots=True)
class RevisionReport:
    revision: str
    version: str
    discovery: str
    proxies: tuple[Mapping[str, Any], ...]
    workloads: tuple[SavedWorkload, ...]


def revision_problem(revision: str) -> str | None:
    """What is wrong with a revision's name (a DNS label, as istio.io/rev's values), or None."""
    if len(revision) > 63 or _REVISION.match(revision) is None:
        return (
            f"invalid revision {revision!r}: use a DNS label (lower-case letters, digits and '-'), "
            "e.g. canary"
        )
    return None


class Revisions:
    """The primary's record of the other revisions' control planes, kept from their reports."""

    def __init__(
        self,
        state: MeshState,
        revision: str,
        discovery: Callable[[], str],
        grace_period: float = GRACE_PERIOD,
    ) -> None:
        self.state = state
        self.revision = revision
        #: This meshd's discovery address (known once it listens).
        self.discovery = discovery
        self.grace_period = grace_period
        self.reports: dict[str, RevisionReport] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def report(self, revision: str, body: Any) -> str | None:
        """Take a follower's report; what is wrong with it, or None."""
        problem = revision_problem(revision)
        if problem:
            return problem
        if revision == self.revision:
            return f"this meshd is revision {revision!r} itself: give the follower another --revision"
        parsed = _parse_report(revision, body)
        if isinstance(parsed, str):
            return parsed
        report, ttl = parsed
        self.reports[revision] = report
        self.state.set_remote_workloads(revision, report.workloads)
        self._schedule(revision, ttl, self._silent)
        return None

    def entries(self) -> list[dict[str, Any]]:
        """Each revision's control plane: this one, then the followers by name."""
        own = {
            "revision": self.revision,
            "version": __version__,
            "discovery": self.discovery(),
            "proxies": len(self.state.push.connections),
        }
        others = [
            {
                "revision": r.revision,
                "version": r.version,
                "discovery": r.discovery,
                "proxies": len(r.proxies),
            }
            for r in sorted(self.reports.values(), key=lambda r: r.revision)
        ]
        return [own, *others]

    def proxy_rows(self) -> list[dict[str, Any]]:
        """Every proxy of every revision, as `meshctl proxy-status` shows them."""
        rows = [{**row, "revision": self.revision} for row in self.state.push.rows()]
        for report in sorted(self.reports.values(), key=lambda r: r.revision):
            rows += [{**row, "revision": report.revision} for row in report.proxies]
        return sorted(rows, key=lambda row: str(row.get("id", "")))

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def _silent(self, revision: str) -> None:
        """No report within its ttl: the control plane is gone; its workloads unhealthy, then removed."""
        report = self.reports.pop(revision, None)
        if report is None:
            return
        self.state.set_remote_workloads(revision, [SavedWorkload(e.node, False) for e in report.workloads])
        self._schedule(revision, self.grace_period, self._expire)

    def _expire(self, revision: str) -> None:
        self._timers.pop(revision, None)
        if revision not in self.reports:
            self.state.set_remote_workloads(revision, [])

    def _schedule(self, revision: str, delay: float, callback: Any) -> None:
        handle = self._timers.pop(revision, None)
        if handle is not None:
            handle.cancel()
        self._timers[revision] = asyncio.get_running_loop().call_later(delay, callback, revision)


def _parse_report(revision: str, body: Any) -> tuple[RevisionReport, float] | str:
    if not isinstance(body, dict):
        return 'a report is {"version", "discovery", "workloads": [...], "proxies": [...], "ttl": seconds}'
    version, discovery, ttl = body.get("version"), body.get("discovery"), body.get("ttl")
    if not isinstance(version, str) or not isinstance(discovery, str):
        return "a report needs version and discovery (strings)"
    if not isinstance(ttl, int | float) or not 0 < ttl <= MAX_REPORT_TTL or not math.isfinite(ttl):
        return f"a report's ttl must be a number of seconds above 0, at most {MAX_REPORT_TTL:g}"
    proxies = body.get("proxies")
    if not isinstance(proxies, list) or not all(isinstance(p, dict) for p in proxies):
        return "a report's proxies must be a list of objects (proxy-status rows)"
    workloads = workloads_from_json(body.get("workloads"))
    if isinstance(workloads, str):
        return workloads
    return RevisionReport(revision, version, discovery, tuple(proxies), tuple(workloads)), float(ttl)


class RevisionApi:
    """The config API's endpoints for followers and for `meshctl version` / `proxy-status`."""

    def __init__(self, state: MeshState, revisions: Revisions) -> None:
        self.state = state
        self.revisions = revisions

    async def route(self, request: Request, parts: list[str]) -> Response | None:
        """The response, or None when the request is not one of these endpoints."""
        method = request.method
        match parts:
            case ["watch"] if method == "GET":
                return await self.watch(request)
            case ["export"] if method == "GET":
                return json_response(200, self.export())
            case ["workloads"] if method == "GET":
                exclude = request.query.get("except", "")
                return json_response(200, {"items": workloads_json(self.state.exported_workloads(exclude))})
            case ["revisions"] if method == "GET":
                return json_response(200, {"items": self.revisions.entries()})
            case ["revisions", revision] if method == "PUT":
                return self.report(request, revision)
        return None

    async def watch(self, request: Request) -> Response:
        query = request.query
        try:
            revision = int(query.get("revision", "-1"))
            workloads = int(query.get("workloads", "-1"))
            timeout = float(query.get("timeout", str(WATCH_TIMEOUT)))
        except ValueError:
            return error_response(400, "revision and workloads must be integers, timeout a number of seconds")
        timeout = min(max(timeout, 0.0), MAX_WATCH_TIMEOUT)
        state = self.state
        if state.store.revision == revision and state.registry_version == workloads:
            await state.wait_for_change(timeout)
        return json_response(200, {"revision": state.store.revision, "workloads": state.registry_version})

    def export(self) -> dict[str, Any]:
        store = self.state.store
        return {
            "revision": store.revision,
            "items": [
                {"kind": o.kind, "namespace": o.namespace, "name": o.name, "body": thaw(o.body)}
                for o in store.objects()
            ],
            "namespaces": [{"name": n.name, "labels": dict(n.labels)} for n in store.namespaces()],
        }

    def report(self, request: Request, revision: str) -> Response:
        try:
            body = request.json()
        except ValueError as exc:
            return error_response(400, str(exc))
        problem = self.revisions.report(revision, body)
        if problem:
            return error_response(422, problem)
        return json_response(200, {"revision": revision, "result": "reported"})


def parse_export(body: Any) -> tuple[int, list[PutObject], dict[str, dict[str, str]]] | str:
    """An export's (store revision, resources, namespaces' labels), or what is wrong with it."""
    if not isinstance(body, dict) or not isinstance(body.get("revision"), int):
        return "an export is {revision, items, namespaces}"
    objects = []
    for item in body.get("items") or []:
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in ("kind", "name")):
            return f"an export's item is not a resource: {item!r}"
        if not isinstance(item.get("body"), dict):
            return f"an export's {item['kind']} {item['name']} has no body"
        objects.append(PutObject(item["kind"], str(item.get("namespace", "")), item["name"], item["body"]))
    namespaces: dict[str, dict[str, str]] = {}
    for entry in body.get("namespaces") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return f"an export's namespace is not one: {entry!r}"
        labels = entry.get("labels") or {}
        namespaces[entry["name"]] = {str(k): str(v) for k, v in labels.items()}
    return body["revision"], objects, namespaces
