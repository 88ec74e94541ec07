"""The proxy's `/stats/prometheus`: Envoy's downstream and cluster stats and Istio's standard metrics, in
Prometheus' text exposition format (version 0.0.4), served by the admin listener and by the stats listener.
Rendered on each scrape, never on the request path."""

from __future__ import annotations

from urllib.parse import urlsplit

from .cluster import ClusterState
from .localhttp import LocalHttpServer, Reply, text
from .server import ProxyRuntime
from .stats import Stats
from .telemetry import render

PATH = "/stats/prometheus"
CONTENT_TYPE = "text/plain; version=0.0.4"


def render_prometheus(runtime: ProxyRuntime) -> str:
    """Everything the proxy counts, in Prometheus' text format: Envoy's stats, then Istio's metrics."""
    out: list[str] = []
    _downstream(out, runtime.stats)
    _clusters(out, list(runtime.clusters.clusters.values()))
    out.append(render(runtime.metrics.samples()))
    return "".join(out)


def _downstream(out: list[str], stats: Stats) -> None:
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


def _clusters(out: list[str], clusters: list[ClusterState]) -> None:
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
        [(f'cluster_name="{_escape(c.name)}"', c.outlier.ejections_active) for c in clusters if c.outlier],
    )


def _metric(out: list[str], name: str, kind: str, samples: list[tuple[str, int]]) -> None:
    if not samples:
        return
    out.append(f"# TYPE {name} {kind}\n")
    for labels, value in samples:
        out.append(f"{name}{{{labels}}} {value}\n" if labels else f"{name} {value}\n")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class StatsServer(LocalHttpServer):
    """The stats listener (`mesh-proxy --stats-port`, Istio's 15090): only `GET /stats/prometheus`, on the
    proxy's address, so that a Prometheus on another machine can scrape it. Everything else the admin port
    serves (config dump, clusters, quit) stays on loopback."""

    def __init__(self, runtime: ProxyRuntime) -> None:
        super().__init__(self.handle)
        self._runtime = runtime

    def handle(self, method: str, target: str) -> Reply:
        if urlsplit(target).path != PATH:
            return text(404, f"not found: this port serves only GET {PATH}\n")
        if method != "GET":
            return text(405, "use GET\n")
        return Reply(200, CONTENT_TYPE, render_prometheus(self._runtime).encode())
