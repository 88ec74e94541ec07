"""The conformance gate: Istio's analyzer cases (../shared/conformance/run_analyzers.py) against meshctl.

    gate.py --meshctl PATH [--shared DIR]

Every case must pass except those in known_failures.txt beside this file (cases meshctl does not pass yet,
each with the issue that builds it), and each of those must still fail, so the list only shrinks. Exit 0
when both hold, 1 otherwise, naming the cases; 2 when the runner cannot be run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

KNOWN_FAILURES = Path(__file__).with_name("known_failures.txt")
RESULT_LINE = re.compile(r"^(PASS|FAIL) (.+ :: .+)$")


def known_failures(path: Path = KNOWN_FAILURES) -> Counter[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return Counter(line for line in lines if line and not line.startswith("#"))


def run_cases(runner: Path, meshctl: str) -> tuple[Counter[str], Counter[str]]:
    """(passed, failed) case names, as the runner prints them."""
    proc = subprocess.run(
        [sys.executable, str(runner), "--meshctl", meshctl], capture_output=True, text=True, check=False
    )
    passed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for line in proc.stdout.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            (passed if match.group(1) == "PASS" else failed)[match.group(2)] += 1
    if not passed and not failed:
        raise SystemExit(f"gate: {runner} ran no case (exit {proc.returncode}): {proc.stderr.strip()[:500]}")
    return passed, failed


def verdict(passed: Counter[str], failed: Counter[str], known: Counter[str]) -> tuple[bool, list[str]]:
    unexpected = failed - known
    fixed = known - failed
    total = sum(passed.values()) + sum(failed.values())
    lines = [
        f"conformance: {sum(passed.values())} of {total} cases pass; "
        f"{sum((failed & known).values())} fail as known_failures.txt expects"
    ]
    lines += [f"conformance: FAILED, not a known failure: {name}" for name in sorted(unexpected.elements())]
    lines += [
        f"conformance: now passes, take it off tests/conformance/known_failures.txt: {name}"
        for name in sorted(fixed.elements())
    ]
    return not unexpected and not fixed, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gate.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--meshctl", required=True, help="the meshctl to test")
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("MESHLAB_SHARED", Path(__file__).resolve().parents[3] / "shared")),
        help="the shared directory holding conformance/ (default $MESHLAB_SHARED, else ../shared)",
    )
    args = parser.parse_args(argv)
    runner = args.shared / "conformance" / "run_analyzers.py"
    if not runner.is_file():
        print(f"gate: no {runner}; set MESHLAB_SHARED or --shared to the shared directory", file=sys.stderr)
        return 2
    passed, failed = run_cases(runner, args.meshctl)
    ok, lines = verdict(passed, failed, known_failures())
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
