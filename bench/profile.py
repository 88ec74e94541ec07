"""Where a proxy's time goes while it is under load: py-spy samples its Python stacks (`py-spy record -f raw`)
and the samples are summed by function, by the time spent in the function itself ("own": its own lines and
the C calls they make, socket writes included) and with what it calls ("inclusive"). A bar chart of the top
functions goes beside the report.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .common import BenchError, plot_to


@dataclass(frozen=True)
class Profile:
    samples: int
    own: list[tuple[str, int]]
    inclusive: list[tuple[str, int]]

    def share(self, count: int) -> float:
        return 100.0 * count / self.samples if self.samples else 0.0


def function_name(frame: str) -> str:
    """`Class.method (path/to/file.py:123)` → `Class.method (file.py)`: lines of one function summed."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({path.rsplit('/', 1)[-1]})" if path else name


def summarize(raw: str, top: int = 15) -> Profile:
    """py-spy's raw output (`frame;frame;frame count` per line, outermost first) summed by function."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [function_name(frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return Profile(total, own.most_common(top), inclusive.most_common(top))


def record(pid: int, seconds: int, out: Path) -> Profile:
    """Sample process `pid` for `seconds` (200 Hz) into `out` (raw) and sum it."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise BenchError("py-spy is not installed (make setup installs it from requirements.txt)")
    done = subprocess.run(
        [
            spy,
            "record",
            "-p",
            str(pid),
            "-d",
            str(seconds),
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not out.exists():
        raise BenchError(f"py-spy failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return summarize(out.read_text())


def plot(profile: Profile, title: str, path: Path) -> None:
    names = [name for name, _ in reversed(profile.own)]
    shares = [profile.share(count) for _, count in reversed(profile.own)]
    with plot_to(path, size=(9, 0.35 * len(names) + 1.2)) as axes:
        axes.barh(names, shares)
        axes.set_xlabel("share of samples, own time (%)")
        axes.set_title(title)
        axes.tick_params(axis="y", labelsize=8)
