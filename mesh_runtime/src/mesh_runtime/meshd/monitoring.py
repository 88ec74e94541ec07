"""Port 15014 (HTTP): `/ready`, `/version`, `/metrics` and `/v1/sd` (Prometheus HTTP service discovery)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..ca import CAMetrics
from ..xds import Node
from .http import Request, Response, error_response, json_response, text_response
from .revisions import DEFAULT_REVISION, Revisions
from .state import MeshState

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MonitoringHandler:
    def __init__(
        self,
        state: MeshState,
        ca_metrics: CAMetrics,
        self_target: Callable[[], str],
        revisions: Revisions | None = None,
    ) -> None:
        self.state = state
        self.revisions = revisions or Revisions(state, DEFAULT_REVISION, lambda: "")
        self.ca_metrics = ca_metrics
        self._self_target = self_target
        self.ready = False

    async def __call__(self, request: Request) -> Response:
        if request.method != "GET":
            return error_response(405, "the monitoring port only answers GET")
        path = request.path
        if path == "/ready":
            return text_response(200, "ready\n") if self.ready else text_response(503, "starting\n")
        if path == "/version":
            return json_response(200, self.version())
        if path == "/metrics":
            text = self.ca_metrics.render_prometheus() + self.state.push.metrics.render_prometheus()
            return text_response(200, text, PROMETHEUS_CONTENT_TYPE)
        if path == "/v1/sd":
            return json_response(200, self.service_discovery())
        return error_response(404, f"no such endpoint: {path}")

    def version(self) -> dict[str, Any]:
        """istiod's /version: each revision's control plane (this one and its followers), every proxy."""
        return {
            "meshVersion": [
                {"Component": "meshd", "Revision": e["revision"], "Info": {"version": e["version"]}}
                for e in self.revisions.entries()
            ],
            "dataPlaneVersion": [
                {
                    "ID": row["id"],
                    "IstioVersion": row.get("proxy_version") or "unknown",
                    "Type": row.get("type", ""),
                    "Revision": row["revision"],
                }
                for row in self.revisions.proxy_rows()
            ],
        }

    def service_discovery(self) -> list[dict[str, Any]]:
        """Prometheus HTTP SD: every connected proxy's stats (those of other revisions' control planes too,
        by their reports), then meshd itself."""
        groups: list[dict[str, Any]] = []
        for node in self._connected_nodes():
            target = stats_target(node)
            if not target:
                continue
            labels = {
                "__metrics_path__": "/stats/prometheus",
                "namespace": node.namespace,
                "workload": node.workload,
                "proxy": node.id,
                "proxy_type": node.type,
                **({"node": node.node_name} if node.node_name else {}),
                **{f"label_{_label_name(k)}": v for k, v in node.labels.items()},
            }
            groups.append({"targets": [target], "labels": labels})
        groups.append(
            {
                "targets": [self._self_target()],
                "labels": {"__metrics_path__": "/metrics", "job": "meshd", "namespace": "istio-system"},
            }
        )
        return groups

    def _connected_nodes(self) -> list[Node]:
        nodes = {c.node.id: c.node for c in self.state.push.connections.values()}
        for report in self.revisions.reports.values():
            for entry in report.workloads:
                if entry.healthy:
                    nodes.setdefault(entry.node.id, entry.node)
        return [nodes[key] for key in sorted(nodes)]


def stats_target(node: Node) -> str:
    """Where Prometheus scrapes a proxy: its stats listener on its address (reachable from any machine), else
    its admin port, which is on loopback and so only reachable from the proxy's host; "" when neither."""
    if node.stats_port:
        host = f"[{node.address}]" if ":" in node.address else node.address
        return f"{host}:{node.stats_port}"
    if node.admin_port:
        return f"127.0.0.1:{node.admin_port}"
    return ""


def _label_name(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key)
