"""How a lab knows its mesh serves: HTTP probes straight to loopback (never through a proxy named in the
environment), what every cluster's endpoints should be once every workload is registered, why the proxies
do not match that or are not SYNCED yet, and the poll loop that waits for a condition while watching the
lab's processes. Everything but the loop is a function of what it is given, so each can be checked alone."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .model import LabError, Workload
from .ports import LOOPBACK
from .processes import Child
from .spec import LabSpec

POLL_INTERVAL = 0.1

#: Requests to the lab's own loopback addresses never go through a proxy named in the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 5.0) -> bytes:
    """GET straight to the address (never through a proxy named in the environment)."""
    with _DIRECT.open(url, timeout=timeout) as reply:
        return bytes(reply.read())


def http_status(url: str) -> int:
    """The status a GET of `url` answers with; 0 when nothing answers."""
    try:
        with _DIRECT.open(url, timeout=2) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return 0


def is_ok(url: str) -> bool:
    return http_status(url) == 200


def revision(version: str) -> int:
    """The store revision a pushed config's version carries (`<revision>.<n>`); 0 when it carries none."""
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def expected_endpoints(spec: LabSpec, workloads: Mapping[str, Workload]) -> dict[str, set[str]]:
    """Cluster name → the endpoints (`address:port`) it has once every workload is registered: a workload's
    sidecar inbound port, or its app's port when it has no sidecar."""
    expected: dict[str, set[str]] = {}
    for service in spec.services:
        addresses = set()
        for workload_spec in spec.selected_workloads(service):
            workload = workloads[workload_spec.proxy_id]
            port = workload.inbound_port if workload.proxy is not None else workload.app_port
            addresses.add(f"{LOOPBACK}:{port}")
        if addresses:
            for port_spec in service.ports:
                expected[f"outbound|{port_spec.port}||{service.hostname}"] = addresses
    return expected


def cluster_problems(
    proxy_id: str, statuses: Iterable[Mapping[str, Any]], expected: Mapping[str, set[str]]
) -> list[str]:
    """The clusters of one proxy's `/clusters?format=json` whose healthy endpoints are not those expected."""
    problems = []
    for cluster in statuses:
        wanted = expected.get(cluster["name"])
        if wanted is None:
            continue
        healthy = {h["address"] for h in cluster["hosts"] if h.get("health") == "healthy"}
        if healthy != wanted or len(cluster["hosts"]) != len(wanted):
            problems.append(
                f"{proxy_id}: {cluster['name']} has healthy endpoints {sorted(healthy)} of "
                f"{len(cluster['hosts'])}, {sorted(wanted)} expected"
            )
    return problems


def convergence_problems(admin_ports: Mapping[str, int], expected: Mapping[str, set[str]]) -> list[str]:
    """Why the data plane does not (yet) match `expected`, asked of every proxy's admin port."""
    problems = []
    for proxy_id, admin_port in admin_ports.items():
        try:
            body = http_get(f"http://{LOOPBACK}:{admin_port}/clusters?format=json")
            statuses = json.loads(body)["cluster_statuses"]
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{proxy_id}: no cluster status ({exc})")
            continue
        problems += cluster_problems(proxy_id, statuses, expected)
    return problems


def sync_problems(
    rows: Iterable[Mapping[str, Any]], wanted: Iterable[str], min_revision: int = 0
) -> list[str]:
    """Why the `proxy-status` rows do not show every wanted proxy SYNCED at `min_revision` or later."""
    by_id = {row["id"]: row for row in rows}
    problems = []
    for proxy_id in wanted:
        row = by_id.get(proxy_id)
        if row is None:
            problems.append(f"{proxy_id}: not connected to meshd")
        elif row["state"] != "SYNCED":
            problems.append(f"{proxy_id}: {row['state']} {row.get('last_error') or ''}".rstrip())
        elif revision(row["acked_version"]) < min_revision:
            problems.append(f"{proxy_id}: acknowledged {row['acked_version']}, not yet {min_revision}")
    return problems


def wait_for(
    what: str,
    condition: Callable[[], bool],
    watched: Iterable[Child],
    timeout: float,
    logs: Path,
    explain: Callable[[], str] | None = None,
) -> None:
    """Poll `condition` until it is true. LabError when a watched process exits (with the end of its log)
    or when `timeout` seconds pass (with `explain()`'s account of what is still missing)."""
    running = [child for child in watched if child.process is not None]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (LabError, OSError):
            pass
        for child in running:
            if child.returncode is not None:
                raise LabError(
                    f"{child.name} exited with status {child.returncode} while waiting for {what}; "
                    f"see {child.log_path}:\n{child.log_tail()}"
                )
        if time.monotonic() >= deadline:
            detail = ""
            if explain is not None:
                try:
                    detail = "\n" + explain()
                except (LabError, OSError) as exc:
                    detail = f"\n{exc}"
            raise LabError(f"timed out waiting for {what}; logs are in {logs}{detail}")
        time.sleep(POLL_INTERVAL)
