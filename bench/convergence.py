"""Config convergence: from a VirtualService change sent to meshd's config API until every connected proxy has
received and acknowledged a push carrying it (Istio measured 4.3 s at p99, istio/istio#40744).

meshd runs on its own CPU with 1000 Services and one VirtualService in namespace `bench`; stand-in proxies
(`bench/standin.py`, in this process, on the other CPU) connect and sync. Then, `--changes` times, the
VirtualService's first route gets a new URI prefix, `POST /v1/apply`ed through the runtime's config API client
(timed from just before the request), and the change has converged when every stand-in has acknowledged a
push whose text carries the new prefix: the time is that last Ack's. The same is measured at each proxy
count of `--sweep` (stand-ins added between points, one meshd throughout) for the plot of convergence
against connected proxies.

    python -m bench.convergence [--services 1000] [--proxies 100] [--changes 20] [--sweep 10,50,100]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import common
from .meshdrun import (
    Meshd,
    all_synced,
    apply,
    pin_self,
    proxy_rows,
    raise_open_files,
    remove,
    service_names,
    services_yaml,
    temporary_directory,
    virtual_service_yaml,
)
from .standin import Fleet, PushEvent, StandInError

BENCH = "convergence"
TARGET_P99 = 0.5
ISTIO_P99 = 4.3
SYNC_TIMEOUT = 300.0
CHANGE_TIMEOUT = 120.0
#: Between two changes, so that each is its own debounced batch (meshd waits 100 ms of quiet).
SETTLE = 0.3
#: No push for this long (more than the 100 ms debounce, with room for a busy meshd): meshd is quiet.
QUIET = 2.0


# -- what converged, from the events ----------------------------------------------------------------------


def convergence(
    events: Iterable[PushEvent], proxies: Sequence[str], marker: bytes, started: float
) -> float | None:
    """Seconds from `started` until the last of `proxies` acknowledged its first push carrying `marker`; None
    while one of them has acknowledged none."""
    first: dict[str, float] = {}
    for event in events:
        if marker in event.carries and event.acked >= started:
            first[event.proxy] = min(first.get(event.proxy, event.acked), event.acked)
    if any(proxy not in first for proxy in proxies):
        return None
    return max((first[proxy] for proxy in proxies), default=started) - started


def missing(events: Iterable[PushEvent], proxies: Sequence[str], marker: bytes) -> list[str]:
    """The proxies that have acknowledged no push carrying `marker`."""
    have = {event.proxy for event in events if marker in event.carries}
    return [proxy for proxy in proxies if proxy not in have]


def change_marker(prefix: str) -> bytes:
    """How the prefix appears in a pushed config's JSON: a whole string, quotes included, so that change 1's
    marker is not found in change 10's push."""
    return f'"{prefix}"'.encode()


@dataclass(frozen=True)
class Point:
    proxies: int
    times: tuple[float, ...]

    def percentile(self, q: float) -> float:
        return common.percentile(self.times, q)


def figures(points: Sequence[Point], main: int) -> list[common.Figure]:
    """p50/p90/p99 at `main` proxies (the p99 judged against the target), then p50/p99 at each sweep point."""
    out: list[common.Figure] = []
    for point in points:
        if point.proxies != main:
            continue
        for q in (50, 90, 99):
            value = point.percentile(q)
            out.append(
                common.Figure(
                    name=f"convergence p{q}, {point.proxies} proxies",
                    unit="s",
                    runs=(value,),
                    target=f"<= {TARGET_P99} s (Istio: {ISTIO_P99} s p99)" if q == 99 else "",
                    met=value <= TARGET_P99 if q == 99 else None,
                )
            )
    for point in points:
        if point.proxies == main:
            continue
        for q in (50, 99):
            out.append(
                common.Figure(f"convergence p{q}, {point.proxies} proxies", "s", (point.percentile(q),))
            )
    return out


def plot(points: Sequence[Point], path: Path) -> Path | None:
    """convergence p50/p99 against connected proxies, as a PNG; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    ordered = sorted(points, key=lambda p: p.proxies)
    counts = [p.proxies for p in ordered]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(counts, [p.percentile(50) for p in ordered], marker="o", label="p50")
    axes.plot(counts, [p.percentile(99) for p in ordered], marker="o", label="p99")
    axes.axhline(TARGET_P99, color="grey", linestyle="--", label=f"target p99 {TARGET_P99} s")
    axes.set_xlabel("connected proxies")
    axes.set_ylabel("convergence (s)")
    axes.set_title("VirtualService change to every proxy's ACK")
    axes.set_ylim(bottom=0)
    axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


# -- running it -------------------------------------------------------------------------------------------


class NotSynced(common.BenchError):
    """Time ran out before every stand-in was SYNCED: how many were."""

    def __init__(self, synced: int, total: int, timeout: float, log: str) -> None:
        super().__init__(f"{synced} of the {total} stand-ins were SYNCED after {timeout:g} s\n{log}")
        self.synced, self.total, self.timeout = synced, total, timeout


async def wait_synced(meshd: Meshd, fleet: Fleet, timeout: float = SYNC_TIMEOUT) -> None:
    """Until meshd shows every stand-in SYNCED; BenchError when one's stream ended or time ran out."""
    loop = asyncio.get_running_loop()
    client = meshd.client()
    ids = fleet.ids()
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if fleet.broken():
            raise common.BenchError("stand-ins lost their stream: " + "; ".join(fleet.broken()[:5]))
        rows = await loop.run_in_executor(None, proxy_rows, client)
        if all_synced(rows, ids):
            return
        await asyncio.sleep(0.2 if len(ids) <= 100 else 1.0)
    raise NotSynced(synced_in(rows, ids), len(ids), timeout, meshd.log())


def synced_in(rows: Sequence[dict[str, Any]], ids: Sequence[str]) -> int:
    """How many of `ids` meshd's proxy rows show SYNCED."""
    wanted = set(ids)
    return sum(1 for row in rows if row["id"] in wanted and row["state"] == "SYNCED")


async def synced_now(meshd: Meshd, fleet: Fleet) -> int:
    """How many of the fleet's stand-ins meshd shows SYNCED now (0 when it does not answer)."""
    try:
        rows = await asyncio.get_running_loop().run_in_executor(None, proxy_rows, meshd.client())
    except Exception:  # meshd too busy or gone: nothing to count
        return 0
    return synced_in(rows, fleet.ids())


async def wait_quiet(meshd: Meshd, fleet: Fleet, quiet: float = QUIET, timeout: float = SYNC_TIMEOUT) -> None:
    """Until every stand-in is SYNCED and no push has arrived for `quiet` seconds: the registry changes of
    the last connections may still be waiting in meshd's debounce when all are SYNCED."""
    deadline = time.monotonic() + timeout
    while True:
        await wait_synced(meshd, fleet, max(deadline - time.monotonic(), 1.0))
        since = time.monotonic() - fleet.last_arrival()
        if since >= quiet:
            return
        if time.monotonic() > deadline:
            raise common.BenchError(f"meshd kept pushing for more than {timeout:g} s after all were SYNCED")
        await asyncio.sleep(quiet - since)


async def one_change(meshd: Meshd, fleet: Fleet, host: str, prefix: str) -> float:
    """Apply the VirtualService with `prefix`; seconds until every stand-in acknowledged a push with it."""
    loop = asyncio.get_running_loop()
    client = meshd.client()
    marker = change_marker(prefix)
    fleet.watch.markers = [marker]
    ids = fleet.ids()
    documents = virtual_service_yaml(host, prefix)
    started = time.monotonic()
    await loop.run_in_executor(None, apply, client, documents, "bench-change")
    deadline = started + CHANGE_TIMEOUT
    while (took := convergence(fleet.events(), ids, marker, started)) is None:
        if time.monotonic() > deadline:
            late = missing(fleet.events(), ids, marker)
            raise common.BenchError(f"{len(late)} stand-ins never acknowledged change {prefix}: {late[:5]}")
        if fleet.broken():
            raise common.BenchError("stand-ins lost their stream: " + "; ".join(fleet.broken()[:5]))
        await asyncio.sleep(0.01)
    return took


async def measure(args: argparse.Namespace, workdir: Path) -> tuple[list[Point], list[str]]:
    notes: list[str] = []
    meshd = Meshd(workdir / "meshd", profile=args.profile).start()
    fleet: Fleet | None = None
    try:
        loop = asyncio.get_running_loop()
        client = meshd.client()
        names = service_names(args.services)
        host = names[0]
        begun = time.monotonic()
        await loop.run_in_executor(None, apply, client, services_yaml(args.services), "bench-services")
        await loop.run_in_executor(
            None, apply, client, virtual_service_yaml(host, "/bench-initial"), "bench-vs"
        )
        notes.append(
            f"{args.services} Services and 1 VirtualService applied in {time.monotonic() - begun:.2f} s"
        )
        fleet = Fleet(
            "127.0.0.1",
            meshd.ports["discovery"],
            meshd.root_cert,
            meshd.token(),
            workdir / "certs",
            names,
            certificates=args.certificates,
            decode=args.decode,
        )
        run = uuid.uuid4().hex[:8]
        points: list[Point] = []
        for count in sweep_counts(args.sweep, args.proxies):
            begun = time.monotonic()
            await fleet.certify(count - len(fleet.stand_ins))
            certified = time.monotonic()
            await fleet.connect()
            await wait_quiet(meshd, fleet)
            notes.append(
                f"{count} stand-ins: certificates {certified - begun:.2f} s, connected and SYNCED "
                f"{time.monotonic() - certified:.2f} s later"
            )
            times = []
            for index in range(args.changes):
                await asyncio.sleep(SETTLE)
                times.append(await one_change(meshd, fleet, host, f"/bench-{run}-{count}-{index}"))
                await wait_synced(meshd, fleet)
            points.append(Point(count, tuple(times)))
            print(
                f"{count:5d} proxies: convergence p50 {common.percentile(times, 50):.3f} s, "
                f"p90 {common.percentile(times, 90):.3f} s, p99 {common.percentile(times, 99):.3f} s, "
                f"max {max(times):.3f} s over {len(times)} changes",
                flush=True,
            )
        return points, notes
    finally:
        if fleet is not None:
            await fleet.close()
        meshd.stop()


def sweep_counts(sweep: Sequence[int], proxies: int) -> list[int]:
    """The proxy counts to measure at, ascending, always ending with `proxies` (none above it)."""
    return sorted({count for count in sweep if 0 < count < proxies} | {proxies})


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated whole numbers, e.g. 10,50,100") from None
    if any(count <= 0 for count in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: every proxy count must be at least 1")
    return counts


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.convergence", description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000, help="Services in the mesh (1000)")
    parser.add_argument(
        "--proxies", type=int, default=100, help="stand-in proxies for the main figures (100)"
    )
    parser.add_argument("--changes", type=int, default=20, help="VirtualService changes at each count (20)")
    parser.add_argument(
        "--sweep", type=parse_counts, default=[10, 50, 100], help="proxy counts for the plot (10,50,100)"
    )
    parser.add_argument(
        "--certificates",
        choices=("per-proxy", "per-service"),
        default="per-proxy",
        help="a key and CSR per stand-in (as every mesh-proxy), or one per service shared by its stand-ins",
    )
    parser.add_argument("--decode", action="store_true", help="decode every push in full with the codec")
    parser.add_argument(
        "--profile", type=Path, default=None, help="run meshd under cProfile, its stats written to this file"
    )
    parser.add_argument(
        "--out", type=Path, default=common.OUT, help="where the result and plot go (bench/out)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.services < 1 or args.proxies < 1 or args.changes < 1:
        print("convergence: --services, --proxies and --changes must be at least 1", file=sys.stderr)
        return 2
    result = common.Result(BENCH, " ".join(["python -m bench.convergence", *(argv or sys.argv[1:])]))
    result.mark_load("start")
    raise_open_files(4096 + 4 * args.proxies)
    pinned = pin_self(common.LOAD_CPU)
    workdir = temporary_directory("bench-convergence-")
    try:
        points, notes = asyncio.run(measure(args, workdir))
    except (common.BenchError, StandInError) as exc:
        print(f"convergence: {exc}", file=sys.stderr)
        return 1
    finally:
        remove(workdir)
    result.mark_load("end")
    for figure in figures(points, args.proxies):
        result.add(figure)
    result.notes.extend(notes)
    result.notes.append(
        f"meshd pinned to CPU {common.MEASURED_CPU}; stand-ins "
        + (f"in this process, pinned to CPU {common.LOAD_CPU}" if pinned else "in this process, not pinned")
        + f"; certificates {args.certificates}; pushes "
        + ("decoded in full" if args.decode else "read by envelope")
    )
    for point in points:
        result.notes.append(
            f"{point.proxies} proxies, each change (s): " + " ".join(f"{t:.3f}" for t in point.times)
        )
    png = plot(points, args.out / "convergence.png")
    if png is not None:
        result.plots.append(png.name)  # bench/report.py finds it beside the result
    else:
        result.notes.append("no plot: matplotlib is not installed")
    path = result.write(args.out)
    print(f"written {path}" + (f" and {png}" if png else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
