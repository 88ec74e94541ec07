"""The admin listener (loopback only, as Envoy's): readiness, config dump, stats, clusters, quit.

Not on the request path: a LocalHttpServer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mesh_runtime import xds

from . import prometheus
from .localhttp import LocalHttpServer, Reply, text
from .server import ProxyRuntime


class AdminServer(LocalHttpServer):
    def __init__(self, runtime: ProxyRuntime, on_quit: Callable[[], None], proxy_version: str = "") -> None:
        super().__init__(self.handle)
        self._runtime = runtime
        self._on_quit = on_quit
        self._proxy_version = proxy_version

    def handle(self, method: str, target: str) -> Reply:
        url = urlsplit(target)
        query = parse_qs(url.query)
        runtime = self._runtime
        path = url.path
        if path in ("/healthz/ready", "/ready"):
            return self._readiness()
        if path == "/config_dump":
            return _json(self._config_dump())
        if path == prometheus.PATH:
            return Reply(200, prometheus.CONTENT_TYPE, prometheus.render_prometheus(runtime).encode())
        if path == "/stats":
            lines = runtime.stats.lines(runtime.clusters.clusters.values())
            if query.get("format") == ["json"]:
                return _json({"stats": [{"name": n, "value": v} for n, v in lines]})
            return text(200, "".join(f"{name}: {value}\n" for name, value in lines))
        if path == "/clusters":
            if query.get("format") == ["json"]:
                return _json(self._clusters_json())
            return text(200, self._clusters_text())
        if path == "/server_info":
            return _json(self._server_info())
        if path == "/quitquitquit":
            return self._quit(method)
        return text(404, "not found\n")

    def _readiness(self) -> Reply:
        runtime = self._runtime
        if runtime.ready and not runtime.draining:
            return text(200, "LIVE\n")
        return text(503, f"{'draining' if runtime.draining else self._not_ready_reason()}\n")

    def _quit(self, method: str) -> Reply:
        if method != "POST":
            return text(405, "use POST\n")
        return Reply(200, "text/plain", b"OK\n", then=self._on_quit)

    def _not_ready_reason(self) -> str:
        runtime = self._runtime
        missing = []
        if runtime.compiled is None:
            missing.append("no config yet")
        if not runtime.workload_tls.ready:
            missing.append("no workload certificate yet")
        return ", ".join(missing) or "not ready"

    def _config_dump(self) -> dict[str, Any]:
        compiled = self._runtime.compiled
        return {
            "version": compiled.version if compiled else "",
            "last_error": self._runtime.last_error,
            "config": xds.encode(compiled.config) if compiled else None,
        }

    def _server_info(self) -> dict[str, Any]:
        runtime = self._runtime
        return {
            "node": xds.encode(runtime.node),
            "version": self._proxy_version,
            "config_version": runtime.version,
            "state": "DRAINING" if runtime.draining else ("LIVE" if runtime.ready else "PRE_INITIALIZING"),
            "identity": runtime.workload_tls.identity,
        }

    def _clusters_json(self) -> dict[str, Any]:
        clusters = []
        for cluster in self._runtime.clusters.clusters.values():
            hosts = []
            for endpoint in cluster.endpoints:
                hosts.append(
                    {
                        "address": f"{endpoint.address}:{endpoint.port}",
                        "health": _health(endpoint),
                        "ejection_count": endpoint.ejection_count,
                        "rq_active": endpoint.active_requests,
                        "rq_total": endpoint.rq_total,
                        "cx_active": endpoint.connections,
                        "cx_total": endpoint.cx_total,
                        "identity": endpoint.endpoint.identity,
                        "workload": endpoint.endpoint.workload,
                    }
                )
            clusters.append({"name": cluster.name, "hosts": hosts})
        return {"cluster_statuses": clusters}

    def _clusters_text(self) -> str:
        lines = []
        for cluster in self._runtime.clusters.clusters.values():
            for endpoint in cluster.endpoints:
                prefix = f"{cluster.name}::{endpoint.address}:{endpoint.port}"
                lines.append(f"{prefix}::cx_active::{endpoint.connections}")
                lines.append(f"{prefix}::cx_total::{endpoint.cx_total}")
                lines.append(f"{prefix}::rq_active::{endpoint.active_requests}")
                lines.append(f"{prefix}::rq_total::{endpoint.rq_total}")
                lines.append(f"{prefix}::health_flags::{_health(endpoint)}")
        return "".join(line + "\n" for line in lines)


def _health(endpoint: Any) -> str:
    if endpoint.ejected:
        return "/failed_outlier_check"
    if not endpoint.endpoint.healthy:
        return "/failed_eds_health"
    return "healthy"


def _json(value: Any) -> Reply:
    return Reply(200, "application/json", json.dumps(value, indent=2, sort_keys=False).encode() + b"\n")
