"""`make bench-gateway`: one ingress gateway's maximum throughput on one core, beside nginx doing the same
job on the same core, in the same runs.

The gateway (`mesh-proxy gateway`, started by the launcher with meshd, bench/chain.py) serves a Gateway on
port 80 whose VirtualService sends every request to a Service whose one endpoint is an nginx upstream outside
the mesh (a WorkloadEntry); the baseline is an nginx reverse proxy in front of the same upstream. wrk (CPU 0)
drives as many requests as each can answer over keep-alive connections; the gateway and nginx run on CPU 1.
Figures: requests a second (the ratio to nginx reported) and CPU time per request.

    python -m bench.gateway [--runs 5] [--seconds 6] [--connections 64]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from .baselines import Server, start_nginx_proxy, start_upstream
from .chain import mesh_chain
from .common import BenchError, Figure, Result, bench_main, cpu_seconds, free_port, parser_for
from .loadgen import run_wrk
from .proxy import PATH


def throughput(pid: int, port: int, seconds: int, connections: int) -> tuple[float, float, int]:
    """Requests a second, CPU µs per request and errors of one wrk run through the proxy `pid` on `port`."""
    before = cpu_seconds(pid)
    run = run_wrk(f"http://127.0.0.1:{port}{PATH}", seconds, connections)
    if run.requests == 0:
        raise BenchError(f"nothing answered on port {port}")
    return run.rate, (cpu_seconds(pid) - before) * 1e6 / run.requests, run.errors


def run(args: argparse.Namespace) -> Result:
    result = Result("gateway", "python -m bench.gateway " + " ".join(sys.argv[1:]))
    work = Path(tempfile.mkdtemp(prefix="meshlab-bench-gateway-"))
    started: list[Server] = []
    rates: dict[str, list[float]] = {"gateway": [], "nginx": []}
    costs: dict[str, list[float]] = {"gateway": [], "nginx": []}
    try:
        upstream = start_upstream(work, free_port())
        nginx = start_nginx_proxy(work, free_port(), upstream.port)
        started += [upstream, nginx]
        with mesh_chain(work, upstream_port=upstream.port) as chain:
            result.mark_load("start")
            targets = {"gateway": (chain.gateway, chain.gateway_port), "nginx": (nginx.pid, nginx.port)}
            for turn in range(args.runs):
                for name in ("gateway", "nginx") if turn % 2 == 0 else ("nginx", "gateway"):
                    rate, cost, errors = throughput(*targets[name], args.seconds, args.connections)
                    rates[name].append(rate)
                    costs[name].append(cost)
                    print(
                        f"run {turn + 1}/{args.runs} {name:8} {rate:8.0f} requests/s {cost:6.1f} µs/request "
                        f"{errors} errors"
                    )
            result.mark_load("end")
        result.add(
            Figure(
                "ingress gateway's throughput on one core",
                "requests/s",
                tuple(rates["gateway"]),
                "nginx",
                tuple(rates["nginx"]),
                target="ratio reported",
            )
        )
        result.add(
            Figure(
                "ingress gateway's CPU per request at full load",
                "µs",
                tuple(costs["gateway"]),
                "nginx",
                tuple(costs["nginx"]),
                target="ratio reported",
            )
        )
        result.notes.append(
            f"wrk -t1 -c{args.connections}, {args.seconds} s a run, {args.runs} runs; the gateway and nginx "
            "on CPU 1, wrk and the upstream on CPU 0 (the upstream can limit nginx's figure)."
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
    parser.add_argument("--connections", type=int, default=64)
    return bench_main("gateway", parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
