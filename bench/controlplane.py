"""meshd at scale: 1000 Services and 2000 connected proxies, its CPU and memory at steady state (Istio 1.20
publishes 1 vCPU and 1.5 GB for istiod at 1000 services and 2000 sidecars).

meshd runs pinned to one CPU; 2000 stand-in proxies (`bench/standin.py`) run in this process on the other,
each with its own certificate and discovery stream, answering meshd's heartbeat Pings. Measured: meshd's RSS
at idle (just started, then with the Services applied and no proxy connected), how long the stand-ins took to
get their certificates and to connect and be SYNCED, then, once all are SYNCED, meshd's CPU (CPU seconds from
/proc over wall seconds: vCPU) in `--windows` windows over `--seconds`, and its RSS (the largest sample, one a
second).

    python -m bench.controlplane [--services 1000] [--proxies 2000] [--seconds 60] [--windows 6]

2000 streams need 2000 file descriptors in meshd and as many here: the soft RLIMIT_NOFILE of this process is
raised (meshd inherits it); a meshd started by systemd or supervisord needs `LimitNOFILE` / `minfds` above
the number of proxies it serves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from . import common
from .convergence import QUIET, NotSynced, synced_now, wait_quiet, wait_synced
from .meshdrun import (
    Meshd,
    apply,
    open_files,
    pin_self,
    raise_open_files,
    remove,
    service_names,
    services_yaml,
    temporary_directory,
)
from .standin import Fleet, StandInError

BENCH = "controlplane"
TARGET_VCPU, ISTIO_VCPU = 0.5, 1.0
TARGET_RSS_MB, ISTIO_RSS_MB = 750.0, 1536.0
MB = 1024 * 1024
#: After the Services are applied, before meshd's idle RSS is read.
IDLE_SETTLE = 2.0
T = TypeVar("T")


@dataclass
class Steady:
    """What was sampled over the steady-state windows."""

    vcpu: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    #: meshd's largest RSS while the stand-ins connected (before the steady state).
    peak_rss: int = 0
    standin_vcpu: float = 0.0
    pings: int = 0


def vcpu(cpu_before: float, cpu_after: float, wall_before: float, wall_after: float) -> float:
    """CPU seconds used over wall seconds passed: how many CPUs' worth the process kept busy."""
    wall = wall_after - wall_before
    if wall <= 0:
        raise ValueError(f"no wall time passed ({wall_before} to {wall_after})")
    return max(cpu_after - cpu_before, 0.0) / wall


def figures(
    steady: Steady, idle_start: int, idle_services: int, certify_s: float, sync_s: float, proxies: int
) -> list[common.Figure]:
    cpu = common.Figure(
        f"meshd vCPU at steady state, {proxies} proxies",
        "vCPU",
        tuple(steady.vcpu),
        target=f"<= {TARGET_VCPU} (Istio 1.20: {ISTIO_VCPU:g})",
        met=common.median(steady.vcpu) <= TARGET_VCPU,
    )
    rss_mb = max(steady.rss) / MB
    rss = common.Figure(
        f"meshd RSS at steady state (largest sample), {proxies} proxies",
        "MB",
        (rss_mb,),
        target=f"<= {TARGET_RSS_MB:g} MB (Istio 1.20: {ISTIO_RSS_MB:g} MB)",
        met=rss_mb <= TARGET_RSS_MB,
    )
    return [
        cpu,
        rss,
        common.Figure("meshd RSS just started", "MB", (idle_start / MB,)),
        common.Figure("meshd RSS idle with the Services, no proxy", "MB", (idle_services / MB,)),
        common.Figure("meshd RSS peak while the stand-ins connected", "MB", (steady.peak_rss / MB,)),
        common.Figure(f"certificates for {proxies} stand-ins", "s", (certify_s,)),
        common.Figure(f"{proxies} stand-ins connected and SYNCED", "s", (sync_s,)),
        common.Figure("stand-ins' own vCPU at steady state (this process)", "vCPU", (steady.standin_vcpu,)),
    ]


def not_synced_figures(
    exc: NotSynced, idle_start: int, idle_services: int, peak_rss: int, certify_s: float
) -> list[common.Figure]:
    """What a run whose stand-ins were not all SYNCED in time measured: how many were, and meshd's memory."""
    return [
        common.Figure(
            f"stand-ins SYNCED {exc.timeout:g} s after the first connect",
            "proxies",
            (float(exc.synced),),
            target=f"all {exc.total}",
            met=False,
        ),
        common.Figure("meshd RSS just started", "MB", (idle_start / MB,)),
        common.Figure("meshd RSS idle with the Services, no proxy", "MB", (idle_services / MB,)),
        common.Figure("meshd RSS peak while the stand-ins connected", "MB", (peak_rss / MB,)),
        common.Figure(f"certificates for {exc.total} stand-ins", "s", (certify_s,)),
    ]


class Peak:
    """meshd's largest RSS sampled while the stand-ins connect, and a stop when it passes a limit: the
    machine is shared, and a meshd that runs away must not take its memory from everything else."""

    def __init__(self, pid: int, limit: int) -> None:
        self.pid, self.limit, self.rss = pid, limit, 0

    async def watch(self) -> None:
        while True:
            self.rss = max(self.rss, common.rss_bytes(self.pid))
            if self.rss > self.limit:
                raise common.BenchError(
                    f"meshd's RSS reached {self.rss / MB:.0f} MB, above --rss-limit "
                    f"{self.limit / MB:.0f} MB: stopped"
                )
            await asyncio.sleep(0.5)

    async def during(self, work: Awaitable[T]) -> T:
        """`work`'s result, or the watch's BenchError when meshd passes the limit first."""
        task, watch = asyncio.ensure_future(work), asyncio.ensure_future(self.watch())
        try:
            await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
            if watch.done():
                task.cancel()
                watch.result()
            return task.result()
        finally:
            watch.cancel()


async def sample_steady(meshd: Meshd, fleet: Fleet, seconds: float, windows: int) -> Steady:
    """meshd's vCPU in each of `windows` equal windows over `seconds`, and its RSS once a second."""
    steady = Steady()
    pid, me = meshd.pid, os.getpid()
    window = seconds / windows
    pings_before = sum(s.session.pings for s in fleet.stand_ins)
    own_cpu, own_wall = common.cpu_seconds(me), time.monotonic()
    for _ in range(windows):
        cpu0, wall0 = common.cpu_seconds(pid), time.monotonic()
        end = wall0 + window
        while (now := time.monotonic()) < end:
            steady.rss.append(common.rss_bytes(pid))
            await asyncio.sleep(min(1.0, end - now))
        steady.vcpu.append(vcpu(cpu0, common.cpu_seconds(pid), wall0, time.monotonic()))
        if fleet.broken():
            raise common.BenchError(
                "stand-ins lost their stream at steady state: " + "; ".join(fleet.broken()[:5])
            )
    steady.rss.append(common.rss_bytes(pid))
    steady.standin_vcpu = vcpu(own_cpu, common.cpu_seconds(me), own_wall, time.monotonic())
    steady.pings = sum(s.session.pings for s in fleet.stand_ins) - pings_before
    return steady


async def measure(args: argparse.Namespace, workdir: Path, result: common.Result) -> None:
    meshd = Meshd(workdir / "meshd", profile=args.profile).start()
    fleet: Fleet | None = None
    try:
        loop = asyncio.get_running_loop()
        idle_start = common.rss_bytes(meshd.pid)
        client = meshd.client()
        names = service_names(args.services)
        await loop.run_in_executor(None, apply, client, services_yaml(args.services), "bench-services")
        await asyncio.sleep(IDLE_SETTLE)
        idle_services = common.rss_bytes(meshd.pid)
        print(
            f"meshd RSS: {idle_start / MB:.1f} MB started, "
            f"{idle_services / MB:.1f} MB with {args.services} Services"
        )
        fleet = Fleet(
            "127.0.0.1",
            meshd.ports["discovery"],
            meshd.root_cert,
            meshd.token(),
            workdir / "certs",
            names,
            certificates=args.certificates,
            timeout=args.sync_timeout,
        )
        peak = Peak(meshd.pid, int(args.rss_limit * MB))
        begun = time.monotonic()
        cpu_begun = common.cpu_seconds(meshd.pid), common.cpu_seconds(os.getpid())
        await peak.during(fleet.certify(args.proxies))
        certified = time.monotonic()
        print(f"{args.proxies} certificates ({args.certificates}) in {certified - begun:.2f} s", flush=True)
        try:
            await peak.during(asyncio.wait_for(fleet.connect(), args.sync_timeout))
            connected = time.monotonic()
            left = max(args.sync_timeout - (connected - certified), 1.0)
            await peak.during(wait_synced(meshd, fleet, timeout=left))
        except (NotSynced, StandInError, TimeoutError) as exc:
            if not isinstance(exc, NotSynced):
                why = str(exc) or f"{fleet.opened()} streams open after {args.sync_timeout:g} s"
                exc = NotSynced(await synced_now(meshd, fleet), args.proxies, args.sync_timeout, why)
            # No steady state to measure: record what was, so that the miss is on the record.
            for figure in not_synced_figures(exc, idle_start, idle_services, peak.rss, certified - begun):
                result.add(figure)
            spent = common.cpu_seconds(meshd.pid) - cpu_begun[0]
            result.notes.append(
                f"not all SYNCED within --sync-timeout {exc.timeout:g} s: no steady state measured; "
                f"meshd used {spent:.1f} CPU seconds since the first CSR"
            )
            raise exc from None
        synced = time.monotonic()
        await peak.during(wait_quiet(meshd, fleet))
        quiet = time.monotonic()
        cpu_synced = common.cpu_seconds(meshd.pid), common.cpu_seconds(os.getpid())
        used = (
            f"CPU seconds from the first CSR to quiet: meshd {cpu_synced[0] - cpu_begun[0]:.1f}, "
            f"stand-ins {cpu_synced[1] - cpu_begun[1]:.1f}"
        )
        result.notes.append(used)
        print(used)
        print(
            f"{args.proxies} stand-ins connected in {connected - certified:.2f} s, all SYNCED "
            f"{synced - certified:.2f} s after the first connect, no push for {QUIET:g} s "
            f"{quiet - certified:.2f} s after it; meshd has {open_files(meshd.pid)} open files",
            flush=True,
        )
        steady = await sample_steady(meshd, fleet, args.seconds, args.windows)
        steady.peak_rss = peak.rss
        for figure in figures(
            steady, idle_start, idle_services, certified - begun, synced - certified, args.proxies
        ):
            result.add(figure)
        pushes = len(fleet.events())
        result.notes.append(
            f"steady state over {args.seconds:g} s in {args.windows} windows; vCPU per window: "
            + " ".join(f"{v:.3f}" for v in steady.vcpu)
            + f"; {steady.pings} heartbeat Pings answered; {pushes} pushes acknowledged in all"
        )
        print(
            f"steady state: meshd {common.median(steady.vcpu):.3f} vCPU (windows "
            + " ".join(f"{v:.3f}" for v in steady.vcpu)
            + f"), RSS max {max(steady.rss) / MB:.1f} MB; stand-ins {steady.standin_vcpu:.3f} vCPU; "
            f"{steady.pings} Pings",
            flush=True,
        )
    finally:
        if fleet is not None:
            await fleet.close()
        meshd.stop()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.controlplane", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--services", type=int, default=1000, help="Services in the mesh (1000)")
    parser.add_argument("--proxies", type=int, default=2000, help="connected stand-in proxies (2000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="steady state measured over (60)")
    parser.add_argument("--windows", type=int, default=6, help="CPU measured in this many windows (6)")
    parser.add_argument(
        "--sync-timeout",
        type=float,
        default=600.0,
        help="for all to connect and be SYNCED, from the first connect (600 s)",
    )
    parser.add_argument(
        "--rss-limit",
        type=float,
        default=16384.0,
        help="stop when meshd's RSS passes this many MB while the stand-ins connect (16384)",
    )
    parser.add_argument(
        "--certificates",
        choices=("per-proxy", "per-service"),
        default="per-proxy",
        help="a key and CSR per stand-in (as every mesh-proxy), or one per service shared by its stand-ins",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="run meshd under cProfile, its stats written to this file"
    )
    parser.add_argument("--out", type=Path, default=common.OUT, help="where the result goes (bench/out)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.services < 1 or args.proxies < 1 or args.windows < 1 or args.seconds <= 0:
        print(
            "controlplane: --services, --proxies, --windows and --seconds must be positive", file=sys.stderr
        )
        return 2
    result = common.Result(BENCH, " ".join(["python -m bench.controlplane", *(argv or sys.argv[1:])]))
    limit = raise_open_files(2 * args.proxies + 1024)
    if limit < args.proxies + 256:
        print(
            f"controlplane: {args.proxies} streams need more open files than the limit {limit}",
            file=sys.stderr,
        )
        return 1
    pinned = pin_self(common.LOAD_CPU)
    result.mark_load("start")
    workdir = temporary_directory("bench-controlplane-")
    try:
        asyncio.run(measure(args, workdir, result))
    except (common.BenchError, StandInError) as exc:
        print(f"controlplane: {exc}", file=sys.stderr)
        if result.figures:
            result.mark_load("end")
            print(f"written {result.write(args.out)} (what was measured before it stopped)", file=sys.stderr)
        return 1
    finally:
        remove(workdir)
    result.mark_load("end")
    result.notes.append(
        f"meshd pinned to CPU {common.MEASURED_CPU}; {args.proxies} stand-ins in this process"
        + (f", pinned to CPU {common.LOAD_CPU}" if pinned else ", not pinned")
        + f"; certificates {args.certificates}; RLIMIT_NOFILE (soft) {limit}, inherited by meshd"
    )
    path = result.write(args.out)
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
