"""What every benchmark shares: statistics over runs, the machine's state, processes' CPU and memory, CPU
pinning, and the result each benchmark writes (`bench/out/<name>.json`, read by `bench/report.py`).

A benchmark is a module `bench/<name>.py` run as `python -m bench.<name>` (`make bench-<name>`). It measures
the mesh and a baseline in the same run, several times, and records figures: a value, the baseline's value
when there is one, and the target the value is judged against. Nothing here is asserted by the test suite
but the arithmetic (tests/unit/bench).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SHARED = Path(os.environ.get("MESHLAB_SHARED", ROOT.parent / "shared"))
#: The load generator runs on this CPU, the process measured (and its baseline) on the other.
LOAD_CPU, MEASURED_CPU = 0, 1


class BenchError(Exception):
    """The benchmark cannot run here (a tool missing, a process that did not start); the message says why."""


# -- statistics -------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0-100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no values")
    return float(statistics.median(values))


def ratio(value: float, baseline: float) -> float:
    if baseline <= 0:
        raise ValueError(f"baseline {baseline} is not positive")
    return value / baseline


# -- the machine ------------------------------------------------------------------------------------------


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def commit() -> str:
    """The checkout's commit, `+` when it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty else "")


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count() or 1,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def pinned(cpu: int, argv: Sequence[str]) -> list[str]:
    """`argv` bound to one CPU with taskset, when the machine has two and taskset is there."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *argv]
    return list(argv)


def need(*tools: str) -> None:
    """Raise BenchError naming the Debian package of each missing tool."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise BenchError(f"not installed: {', '.join(missing)} (apt-get install -y {' '.join(missing)})")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- processes --------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"process {pid} has no VmRSS (a kernel thread, or gone)")


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BenchError(f"{process.args!r} exited with {process.returncode} before listening on {port}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise BenchError(f"nothing listened on 127.0.0.1:{port} within {timeout:g} s")


# -- results ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One measured figure: the median over `runs`, beside its baseline measured in the same runs."""

    name: str
    unit: str
    runs: tuple[float, ...]
    baseline_name: str = ""
    baseline_runs: tuple[float, ...] = ()
    #: The target, as text, and whether it is met (None: a figure only reported).
    target: str = ""
    met: bool | None = None

    @property
    def value(self) -> float:
        return median(self.runs)

    @property
    def baseline(self) -> float | None:
        return median(self.baseline_runs) if self.baseline_runs else None

    @property
    def ratio(self) -> float | None:
        base = self.baseline
        return ratio(self.value, base) if base else None


@dataclass
class Result:
    """What one benchmark measured, written to bench/out/<bench>.json."""

    bench: str
    command: str
    figures: list[Figure] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=machine)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def mark_load(self, when: str) -> None:
        self.load[when] = load_average()

    def write(self, directory: Path = OUT) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.bench}.json"
        body = asdict(self)
        body["figures"] = [
            asdict(f) | {"value": f.value, "baseline": f.baseline, "ratio": f.ratio} for f in self.figures
        ]
        path.write_text(json.dumps(body, indent=2) + "\n")
        return path


def read_result(path: Path) -> Result:
    body = json.loads(path.read_text())
    figures = [
        Figure(
            name=f["name"],
            unit=f["unit"],
            runs=tuple(f["runs"]),
            baseline_name=f.get("baseline_name", ""),
            baseline_runs=tuple(f.get("baseline_runs", ())),
            target=f.get("target", ""),
            met=f.get("met"),
        )
        for f in body["figures"]
    ]
    return Result(
        bench=body["bench"],
        command=body["command"],
        figures=figures,
        plots=list(body.get("plots", [])),
        notes=list(body.get("notes", [])),
        load={k: (v[0], v[1], v[2]) for k, v in body.get("load", {}).items()},
        machine=body.get("machine", {}),
    )


# -- running a benchmark ----------------------------------------------------------------------------------


def bench_main(
    name: str,
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace], Result],
    argv: list[str] | None,
) -> int:
    """`python -m bench.<name>`: its options, its run, its result written; a BenchError is a message and 1."""
    args = parser.parse_args(argv)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"bench.{name}: {exc}", file=sys.stderr)
        return 1
    print(f"written {result.write().relative_to(ROOT)}")
    return 0


def parser_for(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's option parser, described by the first paragraph of its module's docstring."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)


@contextmanager
def plot_to(path: Path, size: tuple[float, float] = (7, 4)) -> Iterator[Any]:
    """A matplotlib figure's axes (Agg: no screen), saved to `path` as PNG when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=size)
    try:
        yield axes
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)
