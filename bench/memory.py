"""`make bench-memory`: a sidecar's resident memory after a minute of load and its growth over the next
minutes (default 10 in all), beside nginx and haproxy under the same load in the same run.

The three proxies (bench/proxy.py's sidecar with its route and metrics, nginx, haproxy, all in front of the
same nginx upstream) each get a steady keep-alive load from their own wrk for the whole time; their RSS is
sampled every few seconds. Figures: RSS at one minute (target ≤ 30 MB; Istio's sidecar takes about 60 MB,
Linkerd's proxy 26 MB) and growth from one minute to the end (target < 5 %). A plot shows RSS over time.

    python -m bench.memory [--minutes 10] [--interval 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .baselines import Server, start_haproxy, start_nginx_proxy, start_upstream
from .common import (
    LOAD_CPU,
    OUT,
    BenchError,
    Figure,
    Result,
    bench_main,
    free_port,
    need,
    parser_for,
    pinned,
    plot_to,
    rss_bytes,
)
from .proxy import PATH, start_sidecar

RSS_TARGET_MB = 30.0
GROWTH_TARGET = 5.0
WARM = 60.0


def growth_percent(samples: list[tuple[float, float]], warm: float = WARM) -> float:
    """How much the RSS grew from the first sample at or after `warm` seconds to the last, in per cent."""
    after = [rss for at, rss in samples if at >= warm]
    if len(after) < 2:
        raise ValueError(f"fewer than two samples after {warm:g} s")
    return (after[-1] - after[0]) / after[0] * 100


def at_warm(samples: list[tuple[float, float]], warm: float = WARM) -> float:
    after = [rss for at, rss in samples if at >= warm]
    if not after:
        raise ValueError(f"no sample after {warm:g} s")
    return after[0]


def plot(series: dict[str, list[tuple[float, float]]], path: Path) -> None:
    with plot_to(path) as axes:
        for name, samples in series.items():
            axes.plot([at / 60 for at, _ in samples], [rss for _, rss in samples], label=name)
        axes.axhline(
            RSS_TARGET_MB, color="grey", linestyle="--", linewidth=1, label=f"target {RSS_TARGET_MB:g} MB"
        )
        axes.set_xlabel("minutes under load")
        axes.set_ylabel("RSS (MB)")
        axes.set_title("Resident memory under a steady load")
        axes.grid(alpha=0.3)
        axes.legend()


def run(args: argparse.Namespace) -> Result:
    need("wrk")
    result = Result("memory", "python -m bench.memory " + " ".join(sys.argv[1:]))
    work = Path(tempfile.mkdtemp(prefix="meshlab-bench-memory-"))
    started: list[Server] = []
    loads: list[subprocess.Popen[bytes]] = []
    seconds = args.minutes * 60
    try:
        upstream = start_upstream(work, free_port())
        started.append(upstream)
        proxies = {
            "sidecar": start_sidecar(work, "sidecar", upstream.port, telemetry=False),
            "nginx": start_nginx_proxy(work, free_port(), upstream.port),
            "haproxy": start_haproxy(work, free_port(), upstream.port),
        }
        started += proxies.values()
        result.mark_load("start")
        for server in proxies.values():
            argv = ["wrk", "-t1", f"-c{args.connections}", f"-d{int(seconds) + 5}s"]
            loads.append(
                subprocess.Popen(
                    pinned(LOAD_CPU, [*argv, f"http://127.0.0.1:{server.port}{PATH}"]),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        series: dict[str, list[tuple[float, float]]] = {name: [] for name in proxies}
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) <= seconds:
            for name, server in proxies.items():
                if server.process.poll() is not None:
                    raise BenchError(f"{name} exited under load")
                series[name].append((elapsed, rss_bytes(server.pid) / 2**20))
            time.sleep(args.interval)
        result.mark_load("end")
        warm = min(WARM, seconds / 2)
        for name, samples in series.items():
            rss, growth = at_warm(samples, warm), growth_percent(samples, warm)
            print(f"{name}: {rss:.1f} MB at {warm:g} s, growth {growth:+.1f} %")
        sidecar = series["sidecar"]
        result.add(
            Figure(
                f"sidecar RSS after {warm:g} s of load",
                "MB",
                (at_warm(sidecar, warm),),
                "nginx",
                (at_warm(series["nginx"], warm),),
                target=f"≤ {RSS_TARGET_MB:g} MB",
                met=at_warm(sidecar, warm) <= RSS_TARGET_MB,
            )
        )
        result.add(
            Figure(
                f"sidecar RSS against haproxy after {warm:g} s",
                "MB",
                (at_warm(sidecar, warm),),
                "haproxy",
                (at_warm(series["haproxy"], warm),),
                target="ratio reported",
            )
        )
        result.add(
            Figure(
                f"sidecar RSS growth from {warm:g} s to {seconds / 60:g} min",
                "%",
                (growth_percent(sidecar, warm),),
                target=f"< {GROWTH_TARGET:g} %",
                met=growth_percent(sidecar, warm) < GROWTH_TARGET,
            )
        )
        result.notes.append(
            "growth of the baselines over the same time: "
            + ", ".join(f"{n} {growth_percent(series[n], warm):+.1f} %" for n in ("nginx", "haproxy"))
        )
        OUT.mkdir(parents=True, exist_ok=True)
        picture = OUT / "memory-rss.png"
        plot(series, picture)
        result.plots.append(picture.name)
    finally:
        for load in loads:
            load.terminate()
            load.wait(10)
        for server in reversed(started):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    return bench_main("memory", parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
