"""`make bench-latency`: the latency the mesh adds at a fixed request rate (Istio's published method: a
constant 1000 requests a second, percentiles of client → sidecar → mTLS → sidecar → app against client →
app), in one run with the direct path measured alongside.

Each run sends the same open-loop load (bench/loadgen.py's constant-rate client, on CPU 0) down the direct
path and down the mesh path (bench/chain.py; sidecars on CPU 1), alternating which goes first; a figure is
the median over the runs of (mesh percentile − direct percentile). A plot shows both paths' latency by
percentile for the last run.

    python -m bench.latency [--runs 3] [--seconds 10] [--rate 1000] [--connections 16]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .chain import PATH, SERVER_HOST, mesh_chain
from .common import (
    LOAD_CPU,
    OUT,
    BenchError,
    Figure,
    Result,
    bench_main,
    median,
    parser_for,
    percentile,
    plot_to,
)
from .loadgen import RateRun, constant_rate

#: Istio 1.20's published added latency at 1000 rps (p90, p99) and the issue's targets, in milliseconds.
TARGETS_MS = {50.0: None, 90.0: 0.20, 99.0: 0.25}
PLOTTED = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9)


def added(mesh: RateRun, direct: RateRun, q: float) -> float:
    """What the mesh adds at percentile q, in milliseconds."""
    return (percentile(mesh.service, q) - percentile(direct.service, q)) * 1e3


def figures(runs: list[tuple[RateRun, RateRun]]) -> list[Figure]:
    """Per percentile: what the mesh path adds to the direct path's latency (the median over the runs)."""
    found = []
    for q, target in TARGETS_MS.items():
        extra = tuple(added(mesh, direct, q) for mesh, direct in runs)
        found.append(
            Figure(
                f"latency added by the mesh at p{q:g}",
                "ms",
                extra,
                target=f"≤ +{target} ms" if target is not None else "reported",
                met=None if target is None else median(extra) <= target,
            )
        )
    return found


def plot(mesh: RateRun, direct: RateRun, path: Path) -> None:
    positions = range(len(PLOTTED))
    with plot_to(path) as axes:
        for run, label in ((direct, "client → app"), (mesh, "client → sidecar → mTLS → sidecar → app")):
            axes.plot(positions, [percentile(run.service, q) * 1e3 for q in PLOTTED], marker="o", label=label)
        axes.set_xticks(list(positions), [f"p{q:g}" for q in PLOTTED])
        axes.set_ylabel("latency (ms)")
        axes.set_title("Latency at a constant rate, by percentile")
        axes.grid(alpha=0.3)
        axes.legend()


def run(args: argparse.Namespace) -> Result:
    result = Result("latency", "python -m bench.latency " + " ".join(sys.argv[1:]))
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {LOAD_CPU})
    work = Path(tempfile.mkdtemp(prefix="meshlab-bench-latency-"))
    runs: list[tuple[RateRun, RateRun]] = []
    try:
        with mesh_chain(work) as chain:
            result.mark_load("start")
            for turn in range(args.runs):
                order = ("direct", "mesh") if turn % 2 == 0 else ("mesh", "direct")
                measured: dict[str, RateRun] = {}
                for path in order:
                    if path == "direct":
                        measured[path] = constant_rate(
                            "127.0.0.1",
                            chain.app_port,
                            PATH,
                            rate=args.rate,
                            duration=args.seconds,
                            connections=args.connections,
                        )
                    else:
                        measured[path] = constant_rate(
                            "127.0.0.1",
                            chain.outbound_port,
                            PATH,
                            host_header=SERVER_HOST,
                            rate=args.rate,
                            duration=args.seconds,
                            connections=args.connections,
                        )
                mesh, direct = measured["mesh"], measured["direct"]
                if not mesh.service or not direct.service:
                    raise BenchError(
                        f"no request answered (mesh errors {mesh.errors}, direct {direct.errors})"
                    )
                runs.append((mesh, direct))
                print(
                    f"run {turn + 1}/{args.runs}: added p50 {added(mesh, direct, 50):+.3f} ms, "
                    f"p90 {added(mesh, direct, 90):+.3f} ms, p99 {added(mesh, direct, 99):+.3f} ms "
                    f"(errors mesh {mesh.errors} direct {direct.errors}; late sends mesh {mesh.late} "
                    f"direct {direct.late})"
                )
            result.mark_load("end")
        for figure in figures(runs):
            result.add(figure)
        OUT.mkdir(parents=True, exist_ok=True)
        picture = OUT / "latency-percentiles.png"
        plot(*runs[-1], picture)
        result.plots.append(picture.name)
        result.notes.append(
            f"{args.rate:g} requests/s for {args.seconds:g} s a run, {args.connections} keep-alive "
            f"connections, {args.runs} runs; latency from the request's write to the whole response read."
        )
        mesh, direct = runs[-1]
        result.notes.append(
            "last run, direct / mesh path: "
            + ", ".join(
                f"p{q:g} {percentile(direct.service, q) * 1e3:.3f} / "
                f"{percentile(mesh.service, q) * 1e3:.3f} ms"
                for q in PLOTTED
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--connections", type=int, default=16)
    return bench_main("latency", parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
