"""`make bench-hotpath`: CPU instructions per request on the proxy's request path, counted by valgrind's
callgrind (the same count for the same code, whatever else the machine does), without sockets: what the
Python code of a request costs, by configuration. It measures the tree as it is; run it before and after a
change of the request path (`git stash`) to see what the change did, exactly.

Each configuration runs bench/hotpath_driver.py twice under callgrind, with N and 2N requests; the
difference divided by N is the cost of one request (start-up and warm-up cancel out).

    python -m bench.hotpath [--requests 2000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from .common import ROOT, BenchError, Figure, Result, bench_main, need, parser_for

CONFIGS = {
    "route and metrics": (0, 0, 0),
    "tracing at 1 %": (1, 0, 0),
    "tracing at 1 %, B3 headers coming in": (1, 0, 1),
    "access log": (0, 1, 0),
    "tracing at 1 % (B3 coming in) and access log": (1, 1, 1),
}
_COLLECTED = re.compile(r"Collected : (\d+)")


def collected(output: str) -> int:
    """The instruction count callgrind reports on its last lines."""
    found = _COLLECTED.findall(output)
    if not found:
        raise BenchError(f"callgrind reported no count:\n{output[-2000:]}")
    return int(found[-1])


def count(flags: tuple[int, int, int], requests: int) -> int:
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.hotpath_driver",
        *(str(f) for f in flags),
        str(requests),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise BenchError(f"the driver failed under callgrind ({done.returncode}):\n{done.stderr[-2000:]}")
    return collected(done.stderr)


def per_request(small: int, large: int, requests: int) -> float:
    """Instructions of one request from the counts of `requests` and twice as many."""
    return (large - small) / requests


def run(args: argparse.Namespace) -> Result:
    need("valgrind")
    result = Result("hotpath", "python -m bench.hotpath " + " ".join(sys.argv[1:]))
    result.mark_load("start")
    plain = 0.0
    for name, flags in CONFIGS.items():
        value = per_request(count(flags, args.requests), count(flags, 2 * args.requests), args.requests)
        plain = plain or value
        print(f"{name}: {value:,.0f} instructions per request")
        result.add(
            Figure(
                f"instructions per request: {name}",
                "instructions",
                (value,),
                "route and metrics" if value is not plain else "",
                (plain,) if value is not plain else (),
                target="reported",
            )
        )
    result.mark_load("end")
    result.notes.append(
        f"valgrind --tool=callgrind, {args.requests} and {2 * args.requests} requests through the sans-io "
        "request path (bench/hotpath_driver.py); the ratio is to the route-and-metrics configuration."
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    return bench_main("hotpath", parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
