"""`make bench-proxy`: a sidecar's CPU time per request beside nginx's and haproxy's doing the same job, in
one run (the method of shared/tools/proxy_cost.py, with haproxy added and the runs interleaved).

The sidecar (`mesh-proxy sidecar --config-file`, a static config: no meshd) routes `details` through a route
table, a prefix match, a cluster, the LEAST_REQUEST balancer and a keep-alive pool to an nginx upstream, with
Istio's standard metrics on. wrk drives keep-alive load through each proxy in turn (sidecar, nginx, haproxy,
rotated every run); each proxy's CPU time over the run, divided by the requests it served, is its cost.
The proxies run on CPU 1, wrk and the upstream on CPU 0.

Configurations:
- `route`: the route and metrics only (the issue's first row; baselines nginx and haproxy);
- `telemetry`: also an access log (to a file) and tracing at Istio's 1 % to a Zipkin collector (the
  upstream accepts spans); baseline nginx with its access log on.

    python -m bench.proxy [--runs 5] [--seconds 6] [--connections 32] [--config route,telemetry]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import profile
from .baselines import Server, start_haproxy, start_nginx_proxy, start_upstream
from .common import (
    LOAD_CPU,
    MEASURED_CPU,
    OUT,
    BenchError,
    Figure,
    Result,
    bench_main,
    cpu_seconds,
    free_port,
    median,
    parser_for,
    pinned,
    rss_bytes,
)
from .loadgen import WrkRun, run_wrk

CLUSTER = "outbound|9080||details.default.svc.cluster.local"
PATH = "/details/0"
#: The issue's targets for the route configuration: median and worst run, as ratios to nginx.
ROUTE_MEDIAN_TARGET, ROUTE_WORST_TARGET = 1.2, 1.4
#: Per request and sidecar, with telemetry (Istio publishes 0.20 vCPU per 1000 rps: 200 µs).
TELEMETRY_TARGET_US = 50.0
CONFIGURATIONS = frozenset({"route", "telemetry"})


def sidecar_config(outbound_port: int, upstream_port: int, zipkin: str = "") -> dict[str, object]:
    """The static ProxyConfig (xds codec form) of the sidecar under test."""
    from mesh_runtime import xds

    route = xds.Route(
        name="details",
        matches=(xds.RouteMatch(uri=xds.StringMatch("prefix", "/details")),),
        clusters=(xds.WeightedCluster(CLUSTER),),
    )
    config = xds.ProxyConfig(
        version="bench",
        node=xds.Node(
            id="bench.default", type="sidecar", namespace="default", workload="bench", service_account="bench"
        ),
        listeners=(xds.Listener("outbound", "outbound", "127.0.0.1", outbound_port, route_config="9080"),),
        route_configs=(
            xds.RouteConfiguration(
                "9080", (xds.VirtualHost("details:9080", ("details", "details:9080", "*"), (route,)),)
            ),
        ),
        clusters=(xds.Cluster(name=CLUSTER, service="details.default.svc.cluster.local", port=9080),),
        endpoints=(
            xds.ClusterLoadAssignment(
                CLUSTER, (xds.Endpoint("127.0.0.1", upstream_port, has_sidecar=False),)
            ),
        ),
        telemetry=xds.Telemetry(trace_sampling=1.0, zipkin_address=zipkin),
    )
    encoded: dict[str, object] = xds.encode(config)
    return encoded


def start_sidecar(work: Path, name: str, upstream: int, telemetry: bool) -> Server:
    outbound, admin = free_port(), free_port()
    config = work / f"{name}.json"
    zipkin = f"127.0.0.1:{upstream}" if telemetry else ""
    config.write_text(json.dumps(sidecar_config(outbound, upstream, zipkin)))
    argv = [
        sys.executable,
        "-m",
        "mesh_runtime.proxy",
        "sidecar",
        f"--config-file={config}",
        f"--admin-port={admin}",
        f"--data-dir={work / name}",
        "--log-level=warning",
    ]
    if telemetry:
        argv.append(f"--access-log={work / (name + '.access.log')}")
    log = (work / f"{name}.out").open("wb")
    process = subprocess.Popen(pinned(MEASURED_CPU, argv), stdout=log, stderr=log)
    _wait_ready(admin, process)
    return Server(name, outbound, process)


def _wait_ready(admin: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"mesh-proxy exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/healthz/ready", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise BenchError("mesh-proxy was not ready within 30 s")


@dataclass(frozen=True)
class Cost:
    """One proxy's run: CPU microseconds per request, requests a second, errors, memory afterwards."""

    cpu_us: float
    rate: float
    errors: int
    rss_mb: float


def cost(server: Server, seconds: int, connections: int) -> Cost:
    before = cpu_seconds(server.pid)
    run: WrkRun = run_wrk(f"http://127.0.0.1:{server.port}{PATH}", seconds, connections)
    used = cpu_seconds(server.pid) - before
    if run.requests == 0:
        raise BenchError(f"{server.name} served no request")
    return Cost(used * 1e6 / run.requests, run.rate, run.errors, rss_bytes(server.pid) / 2**20)


def rotated(items: list[Server], turn: int) -> list[Server]:
    """The proxies' order in run `turn`: each goes first in turn, so that none always runs warm or last."""
    shift = turn % len(items)
    return items[shift:] + items[:shift]


def measure(
    servers: list[Server], runs: int, seconds: int, connections: int, say: Callable[[str], None]
) -> dict[str, list[Cost]]:
    costs: dict[str, list[Cost]] = {s.name: [] for s in servers}
    for turn in range(runs):
        for server in rotated(servers, turn):
            found = cost(server, seconds, connections)
            costs[server.name].append(found)
            say(
                f"run {turn + 1}/{runs} {server.name:10} {found.cpu_us:6.1f} µs/request "
                f"{found.rate:8.0f} requests/s  {found.errors} errors  RSS {found.rss_mb:.0f} MB"
            )
    return costs


def route_figures(costs: dict[str, list[Cost]]) -> list[Figure]:
    """The route configuration's figures: the sidecar against nginx (with the issue's target) and haproxy."""
    sidecar = tuple(c.cpu_us for c in costs["sidecar"])
    nginx = tuple(c.cpu_us for c in costs["nginx"])
    ratios = [s / n for s, n in zip(sidecar, nginx, strict=True)]
    figures = [
        Figure(
            "proxy CPU per request (route, metrics)",
            "µs",
            sidecar,
            "nginx",
            nginx,
            target=f"median ≤ {ROUTE_MEDIAN_TARGET} × nginx, no run above {ROUTE_WORST_TARGET} ×",
            met=median(ratios) <= ROUTE_MEDIAN_TARGET and max(ratios) <= ROUTE_WORST_TARGET,
        )
    ]
    if "haproxy" in costs:
        figures.append(
            Figure(
                "proxy CPU per request (route, metrics) against haproxy",
                "µs",
                sidecar,
                "haproxy",
                tuple(c.cpu_us for c in costs["haproxy"]),
                target="ratio reported",
            )
        )
    figures.append(
        Figure(
            "proxy memory after the runs (route)",
            "MB",
            tuple(c.rss_mb for c in costs["sidecar"]),
            "nginx",
            tuple(c.rss_mb for c in costs["nginx"]),
            target="≤ 30 MB",
            met=max(c.rss_mb for c in costs["sidecar"]) <= 30,
        )
    )
    return figures


def telemetry_figure(costs: dict[str, list[Cost]]) -> Figure:
    sidecar = tuple(c.cpu_us for c in costs["sidecar"])
    return Figure(
        "proxy CPU per request (route, metrics, access log, tracing 1 %)",
        "µs",
        sidecar,
        "nginx with its access log",
        tuple(c.cpu_us for c in costs["nginx"]),
        target=f"≤ {TELEMETRY_TARGET_US:g} µs per sidecar (with mTLS: see the note)",
        met=median(sidecar) <= TELEMETRY_TARGET_US,
    )


def profile_sidecar(work: Path, upstream: Server, result: Result, args: argparse.Namespace) -> None:
    """py-spy on a route sidecar under wrk's load: the top functions in the notes and a chart."""
    sidecar = start_sidecar(work, "sidecar-profiled", upstream.port, telemetry=False)
    try:
        load = subprocess.Popen(
            pinned(LOAD_CPU, ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds + 2}s"])
            + [f"http://127.0.0.1:{sidecar.port}{PATH}"],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1)
        found = profile.record(sidecar.pid, args.seconds, work / "sidecar.raw")
        load.wait(args.seconds + 30)
    finally:
        sidecar.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    picture = OUT / "proxy-profile.png"
    profile.plot(found, "mesh-proxy under load (route, metrics): where the time goes", picture)
    result.plots.append(picture.name)
    result.notes.append(
        f"profile (py-spy, {found.samples} samples, own time): "
        + ", ".join(f"{name} {found.share(count):.0f} %" for name, count in found.own[:8])
    )


def run(args: argparse.Namespace) -> Result:
    result = Result("proxy", "python -m bench.proxy " + " ".join(sys.argv[1:]))
    work = Path(tempfile.mkdtemp(prefix="meshlab-bench-proxy-"))
    started: list[Server] = []
    try:
        upstream = start_upstream(work, free_port())
        started.append(upstream)
        result.mark_load("start")
        if "route" in args.config:
            servers = [
                start_sidecar(work, "sidecar", upstream.port, telemetry=False),
                start_nginx_proxy(work, free_port(), upstream.port),
                start_haproxy(work, free_port(), upstream.port),
            ]
            for server, name in zip(servers, ("sidecar", "nginx", "haproxy"), strict=True):
                server.name = name
            started += servers
            costs = measure(servers, args.runs, args.seconds, args.connections, print)
            for figure in route_figures(costs):
                result.add(figure)
            for server in servers:
                server.stop()
        if args.profile:
            profile_sidecar(work, upstream, result, args)
        if "telemetry" in args.config:
            servers = [
                start_sidecar(work, "sidecar-telemetry", upstream.port, telemetry=True),
                start_nginx_proxy(work, free_port(), upstream.port, access_log=True),
            ]
            servers[0].name, servers[1].name = "sidecar", "nginx"
            started += servers
            costs = measure(servers, args.runs, args.seconds, args.connections, print)
            result.add(telemetry_figure(costs))
        result.mark_load("end")
        result.notes.append(
            f"wrk -t1 -c{args.connections}, {args.seconds} s a run, {args.runs} runs, 128-byte JSON body, "
            "keep-alive both sides; proxies on CPU 1, wrk and the nginx upstream on CPU 0."
        )
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


def configurations(text: str) -> set[str]:
    chosen = set(text.split(","))
    unknown = chosen - CONFIGURATIONS
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {', '.join(sorted(unknown))}; choose route, telemetry")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also sample the route sidecar with py-spy under load (default: on)",
    )
    parser.add_argument(
        "--config", type=configurations, default=CONFIGURATIONS, help="route, telemetry (default both)"
    )
    return bench_main("proxy", parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
