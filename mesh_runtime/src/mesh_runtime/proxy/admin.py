"""The admin listener (loopback only, as Envoy's): readiness, config dump, stats, clusters, quit.

Not on the request path, so it is a plain asyncio streams server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mesh_runtime import xds

from .server import ProxyRuntime
from .telemetry import render

_MAX_REQUEST = 16 * 1024


class AdminServer:
    def __init__(self, runtime: ProxyRuntime, on_quit: Callable[[], None], proxy_version: str = "") -> None:
        self._runtime = runtime
        self._on_quit = on_quit
        self._proxy_version = proxy_version
        self._server: asyncio.Server | None = None

    async def start(self, address: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, address, port, reuse_address=True)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > _MAX_REQUEST:
                    break
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                parts = request_line.split()
                if len(parts) != 3:
                    writer.write(_response(400, "text/plain", b"bad request\n", close=True))
                    break
                method, target, _ = parts
                length = _content_length(head)
                if length:
                    await reader.readexactly(min(length, _MAX_REQUEST))
                status, content_type, body = self.handle(method, target)
                writer.write(_response(status, content_type, body))
                await writer.drain()
                if target.startswith("/quitquitquit") and status == 200:
                    self._on_quit()
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def handle(self, method: str, target: str) -> tuple[int, str, bytes]:
        url = urlsplit(target)
        query = parse_qs(url.query)
        runtime = self._runtime
        path = url.path
        if path in ("/healthz/ready", "/ready"):
            if runtime.ready and not runtime.draining:
                return 200, "text/plain", b"LIVE\n"
            reason = "draining" if runtime.draining else self._not_ready_reason()
            return 503, "text/plain", f"{reason}\n".encode()
        if path == "/config_dump":
            return 200, "application/json", _json(self._config_dump())
        if path == "/stats/prometheus":
            return 200, "text/plain; version=0.0.4", self._prometheus().encode()
        if path == "/stats":
            lines = runtime.stats.lines(runtime.clusters.clusters.values())
            if query.get("format") == ["json"]:
                return 200, "application/json", _json({"stats": [{"name": n, "value": v} for n, v in lines]})
            return 200, "text/plain", "".join(f"{name}: {value}\n" for name, value in lines).encode()
        if path == "/clusters":
            if query.get("format") == ["json"]:
                return 200, "application/json", _json(self._clusters_json())
            return 200, "text/plain", self._clusters_text().encode()
        if path == "/server_info":
            return 200, "application/json", _json(self._server_info())
        if path == "/quitquitquit":
            if method != "POST":
                return 405, "text/plain", b"use POST\n"
            return 200, "text/plain", b"OK\n"
        return 404, "text/plain", b"not found\n"

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

    def _prometheus(self) -> str:
        runtime = self._runtime
        out: list[str] = []
        stats = runtime.stats
        _metric(out, "envoy_http_downstream_rq_total", "counter", [("", stats.downstream_rq_total)])
        _metric(
            out,
            "envoy_http_downstream_rq_code",
            "counter",
            [
                (f'response_code="{code}"', count)
                for code, count in enumerate(stats.downstream_rq_by_code)
                if count
            ],
        )
        _metric(
            out,
            "envoy_http_downstream_rq_flags",
            "counter",
            [
                (f'response_flags="{flags}"', count)
                for flags, count in sorted(stats.downstream_rq_by_flags.items())
            ],
        )
        for name in ("downstream_cx_total", "downstream_rq_protocol_error", "errors_contained"):
            _metric(out, f"envoy_http_{name}", "counter", [("", getattr(stats, name))])
        _metric(out, "envoy_http_downstream_cx_active", "gauge", [("", stats.downstream_cx_active)])
        clusters = list(runtime.clusters.clusters.values())
        for name in (
            "upstream_rq_total",
            "upstream_cx_total",
            "upstream_cx_connect_fail",
            "upstream_rq_retry",
            "upstream_rq_pending_overflow",
            "upstream_rq_timeout",
        ):
            _metric(
                out,
                f"envoy_cluster_{name}",
                "counter",
                [(f'cluster_name="{_escape(c.name)}"', getattr(c.stats, name)) for c in clusters],
            )
        _metric(
            out,
            "envoy_cluster_upstream_rq",
            "counter",
            [
                (f'cluster_name="{_escape(c.name)}",response_code="{code}"', count)
                for c in clusters
                for code, count in enumerate(c.stats.upstream_rq_by_code)
                if count
            ],
        )
        _metric(
            out,
            "envoy_cluster_outlier_detection_ejections_total",
            "counter",
            [(f'cluster_name="{_escape(c.name)}"', c.outlier.ejections_total) for c in clusters if c.outlier],
        )
        _metric(
            out,
            "envoy_cluster_outlier_detection_ejections_active",
            "gauge",
            [
                (f'cluster_name="{_escape(c.name)}"', c.outlier.ejections_active)
                for c in clusters
                if c.outlier
            ],
        )
        out.append(render(runtime.metrics.samples()))
        return "".join(out)


def _health(endpoint: Any) -> str:
    if endpoint.ejected:
        return "/failed_outlier_check"
    if not endpoint.endpoint.healthy:
        return "/failed_eds_health"
    return "healthy"


def _metric(out: list[str], name: str, kind: str, samples: list[tuple[str, int]]) -> None:
    if not samples:
        return
    out.append(f"# TYPE {name} {kind}\n")
    for labels, value in samples:
        out.append(f"{name}{{{labels}}} {value}\n" if labels else f"{name} {value}\n")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=False).encode() + b"\n"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return max(int(value.strip()), 0)
            except ValueError:
                return 0
    return 0


def _response(status: int, content_type: str, body: bytes, close: bool = False) -> bytes:
    reason = {
        200: "OK",
        400: "Bad Request",
        404: "Not Found",
        405: "Method Not Allowed",
        503: "Service Unavailable",
    }
    head = (
        f"HTTP/1.1 {status} {reason.get(status, 'Unknown')}\r\n"
        f"content-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        f"{'connection: close' + chr(13) + chr(10) if close else ''}\r\n"
    )
    return head.encode() + body
