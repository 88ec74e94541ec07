"""`python -m bench.report [--record]`: every benchmark's last result (bench/out/*.json) as one report,
bench/out/report.md, with each figure's median, its baseline and the ratio, the target and whether it is
met, the runs, the load average and the commit. `--record` also writes it to bench/RESULTS.md and copies the
plots beside it (bench/results/), which is what `make bench` does.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .common import OUT, ROOT, Figure, Result, read_result

RESULTS = ROOT / "bench" / "RESULTS.md"
PLOTS = ROOT / "bench" / "results"
#: The order of the sections; any other benchmark's result comes after, by name.
ORDER = (
    "proxy",
    "mtls",
    "latency",
    "memory",
    "gateway",
    "hotpath",
    "convergence",
    "controlplane",
    "ca",
    "rollout",
)


def number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def verdict(figure: Figure) -> str:
    if figure.met is None:
        return "reported"
    return "met" if figure.met else "**missed**"


def figure_row(figure: Figure) -> str:
    baseline = figure.baseline
    base = f"{number(baseline)} {figure.unit} ({figure.baseline_name})" if baseline is not None else "—"
    ratio = f"{figure.ratio:.2f} ×" if figure.ratio is not None else "—"
    runs = " ".join(number(v) for v in figure.runs)
    cells = (
        figure.name,
        f"{number(figure.value)} {figure.unit}",
        base,
        ratio,
        figure.target or "—",
        verdict(figure),
        runs,
    )
    return "| " + " | ".join(cells) + " |"


def section(result: Result, plots_dir: str) -> list[str]:
    machine = result.machine
    load = ", ".join(f"{when} {' '.join(str(v) for v in values)}" for when, values in result.load.items())
    lines = [
        f"## {result.bench}",
        "",
        f"`{result.command}` on {machine.get('date', '?')}, commit {machine.get('commit', '?')}, "
        f"{machine.get('cpus', '?')} CPUs, Python {machine.get('python', '?')}; load average (1, 5, 15 min): "
        f"{load or 'not recorded'}.",
        "",
        "| figure | median | baseline (same run) | ratio | target | | runs |",
        "|---|---|---|---|---|---|---|",
        *(figure_row(f) for f in result.figures),
        "",
    ]
    lines += [f"- {note}" for note in result.notes]
    if result.notes:
        lines.append("")
    lines += [f"![{plot}]({plots_dir}/{plot})" for plot in result.plots]
    if result.plots:
        lines.append("")
    return lines


def ordered(results: list[Result]) -> list[Result]:
    rank = {name: index for index, name in enumerate(ORDER)}
    return sorted(results, key=lambda r: (rank.get(r.bench, len(ORDER)), r.bench))


def render(results: list[Result], plots_dir: str) -> str:
    missed = [f"{r.bench}: {f.name}" for r in results for f in r.figures if f.met is False]
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/report.py) from each benchmark's last run; every figure is the "
        "median of several runs beside a baseline measured in the same run. Judge a change by ratios "
        "from one run, never by figures from two.",
        "",
        f"Targets missed: {len(missed)}" + (" — " + "; ".join(missed) if missed else "") + ".",
        "",
    ]
    for result in ordered(results):
        lines += section(result, plots_dir)
    return "\n".join(lines).rstrip() + "\n"


def collect(directory: Path = OUT) -> list[Result]:
    return [read_result(path) for path in sorted(directory.glob("*.json"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--record", action="store_true", help="also write bench/RESULTS.md and bench/results/"
    )
    args = parser.parse_args(argv)
    results = collect()
    if not results:
        print(
            "bench.report: no results in bench/out/: run make bench (or one make bench-<name>) first",
            file=sys.stderr,
        )
        return 1
    report = OUT / "report.md"
    report.write_text(render(results, "."))
    print(f"written {report.relative_to(ROOT)}")
    if args.record:
        PLOTS.mkdir(parents=True, exist_ok=True)
        for result in results:
            for plot in result.plots:
                shutil.copy2(OUT / plot, PLOTS / plot)
        RESULTS.write_text(render(results, "results"))
        print(f"written {RESULTS.relative_to(ROOT)} and {PLOTS.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
