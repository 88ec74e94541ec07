"""`make bench-mtls`: each sidecar's CPU time per request on the mesh path, mutual TLS between the two
sidecars (client → client sidecar → mTLS → server sidecar → app, bench/chain.py), without and with an access
log and tracing at Istio's 1 %, beside nginx proxying to a TLS upstream in the same runs.

wrk drives keep-alive load through the client sidecar; the CPU time both sidecars spent over the run, halved,
divided by the requests served, is the cost per request per sidecar (Istio publishes 0.20 vCPU per 1000
requests/s through a sidecar: 200 µs; the target is 50 µs). Both sidecars (and nginx) run on CPU 1, wrk, the
apps, the upstreams and meshd on CPU 0.

    python -m bench.mtls [--runs 5] [--seconds 6] [--connections 32]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .baselines import Server, start_nginx_tls_proxy, start_tls_upstream, start_upstream
from .chain import PATH, SERVER_HOST, Chain, mesh_chain
from .common import BenchError, Figure, Result, bench_main, cpu_seconds, free_port, median, parser_for
from .loadgen import run_wrk

TARGET_US = 50.0


@dataclass(frozen=True)
class ChainCost:
    per_sidecar_us: float
    client_us: float
    server_us: float
    rate: float
    errors: int


def chain_cost(chain: Chain, seconds: int, connections: int) -> ChainCost:
    pids = (chain.client_sidecar, chain.server_sidecar)
    before = [cpu_seconds(pid) for pid in pids]
    run = run_wrk(
        f"http://127.0.0.1:{chain.outbound_port}{PATH}",
        seconds,
        connections,
        headers=(f"Host: {SERVER_HOST}",),
    )
    client, server = (cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True))
    if run.requests == 0:
        raise BenchError("the mesh path served no request")
    scale = 1e6 / run.requests
    return ChainCost((client + server) * scale / 2, client * scale, server * scale, run.rate, run.errors)


def nginx_cost(server: Server, seconds: int, connections: int) -> float:
    before = cpu_seconds(server.pid)
    run = run_wrk(f"http://127.0.0.1:{server.port}{PATH}", seconds, connections)
    if run.requests == 0:
        raise BenchError("nginx served no request")
    return (cpu_seconds(server.pid) - before) * 1e6 / run.requests


def measure_config(
    chain: Chain, nginx: Server, args: argparse.Namespace, label: str
) -> tuple[list[ChainCost], list[float]]:
    mesh: list[ChainCost] = []
    baseline: list[float] = []
    for turn in range(args.runs):
        for which in ("mesh", "nginx") if turn % 2 == 0 else ("nginx", "mesh"):
            if which == "mesh":
                found = chain_cost(chain, args.seconds, args.connections)
                mesh.append(found)
                print(
                    f"{label} run {turn + 1}/{args.runs}: {found.per_sidecar_us:.1f} µs per sidecar "
                    f"(client {found.client_us:.1f}, server {found.server_us:.1f}), "
                    f"{found.rate:.0f} requests/s, {found.errors} errors"
                )
            else:
                baseline.append(nginx_cost(nginx, args.seconds, args.connections))
                print(f"{label} run {turn + 1}/{args.runs}: nginx → TLS upstream {baseline[-1]:.1f} µs")
    return mesh, baseline


def run(args: argparse.Namespace) -> Result:
    result = Result("mtls", "python -m bench.mtls " + " ".join(sys.argv[1:]))
    work = Path(tempfile.mkdtemp(prefix="meshlab-bench-mtls-"))
    started: list[Server] = []
    try:
        sink = start_upstream(work, free_port())  # also Zipkin's collector: it accepts the spans
        tls_upstream = start_tls_upstream(work, free_port())
        started += [sink, tls_upstream]
        result.mark_load("start")
        for label, telemetry in (("mtls", False), ("mtls+telemetry", True)):
            (work / label).mkdir()
            nginx = start_nginx_tls_proxy(work / label, free_port(), tls_upstream.port, access_log=telemetry)
            started.append(nginx)
            with mesh_chain(
                work / label,
                zipkin_address=f"127.0.0.1:{sink.port}" if telemetry else "",
                trace_sampling=1.0 if telemetry else 0.0,
                access_log=telemetry,
            ) as chain:
                mesh, baseline = measure_config(chain, nginx, args, label)
            nginx.stop()
            per_sidecar = tuple(c.per_sidecar_us for c in mesh)
            name = "access log, tracing 1 %" if telemetry else "no access log, no tracing"
            result.add(
                Figure(
                    f"sidecar CPU per request, mTLS between the sidecars ({name})",
                    "µs",
                    per_sidecar,
                    "nginx to a TLS upstream" + (" with its access log" if telemetry else ""),
                    tuple(baseline),
                    target=f"≤ {TARGET_US:g} µs per sidecar" if telemetry else "reported",
                    met=median(per_sidecar) <= TARGET_US if telemetry else None,
                )
            )
            result.notes.append(
                f"{label}: client sidecar {median([c.client_us for c in mesh]):.1f} µs, server sidecar "
                f"{median([c.server_us for c in mesh]):.1f} µs per request (medians)"
            )
        result.mark_load("end")
        result.notes.append(
            f"wrk -t1 -c{args.connections}, {args.seconds} s a run, {args.runs} runs; sidecars and nginx on "
            "CPU 1; the access logs go to files."
        )
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    return bench_main("mtls", parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
