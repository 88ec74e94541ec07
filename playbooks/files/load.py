"""A bounded load on one URL that counts every outcome: load.py URL --requests N [options].

Each of --concurrency workers keeps one keep-alive connection (a new one after an error) and sends its share
of --requests at an overall pace of --rate requests a second. Every request ends as exactly one outcome:

  ok          status 200 and none of the --broken markers in the body (and --expect, when given, in it)
  degraded    status 200 with a --broken marker (Bookinfo answers 200 when a service behind it failed)
  http_<code> any other status
  error_<why> no answer: connect failure, reset, timeout (--timeout seconds), bad response

The result is one JSON object on stdout: the counts, the failed share, which workloads served the pages
(--served-by, a regular expression with one group, e.g. Bookinfo's "Reviews served by: (\\S+)"), and when the
failures happened (seconds from the start: first, last). Standard library only: it runs on any controller.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

DEFAULT_BROKEN = ("currently unavailable", "Error fetching")


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    served_by: Counter[str] = field(default_factory=Counter)
    failure_times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: str, served_by: str | None, at: float) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if served_by:
                self.served_by[served_by] += 1
            if outcome != "ok":
                self.failure_times.append(at)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    timeout: float
    expect: str
    broken: tuple[str, ...]
    served_by: re.Pattern[str] | None


def parse_target(args: argparse.Namespace) -> Target:
    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        raise SystemExit(f"load.py: {args.url!r} is not an http:// URL")
    try:
        served_by = re.compile(args.served_by) if args.served_by else None
    except re.error as exc:
        raise SystemExit(f"load.py: --served-by {args.served_by!r}: {exc}") from None
    return Target(
        host=url.hostname,
        port=url.port or 80,
        path=(url.path or "/") + (f"?{url.query}" if url.query else ""),
        timeout=args.timeout,
        expect=args.expect,
        broken=tuple(args.broken) if args.broken else DEFAULT_BROKEN,
        served_by=served_by,
    )


def classify(target: Target, status: int, body: str) -> str:
    if status != 200:
        return f"http_{status}"
    if any(marker in body for marker in target.broken):
        return "degraded"
    if target.expect and target.expect not in body:
        return "degraded"
    return "ok"


def one_request(target: Target, conn: http.client.HTTPConnection) -> tuple[str, str | None, bool]:
    """(outcome, served by, keep the connection)."""
    try:
        conn.request("GET", target.path)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
    except TimeoutError:
        return "error_timeout", None, False
    except ConnectionRefusedError:
        return "error_refused", None, False
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        return "error_reset", None, False
    except (OSError, http.client.HTTPException) as exc:
        return f"error_{type(exc).__name__}", None, False
    match = target.served_by.search(body) if target.served_by else None
    return classify(target, response.status, body), match.group(1) if match else None, not response.will_close


def worker(target: Target, tickets: list[float], start: float, tally: Tally) -> None:
    conn = http.client.HTTPConnection(target.host, target.port, timeout=target.timeout)
    for due in tickets:
        delay = start + due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        outcome, served_by, keep = one_request(target, conn)
        tally.add(outcome, served_by, round(time.monotonic() - start, 1))
        if not keep:
            conn.close()
            conn = http.client.HTTPConnection(target.host, target.port, timeout=target.timeout)
    conn.close()


def run(target: Target, requests: int, concurrency: int, rate: float) -> dict[str, object]:
    tally = Tally()
    schedule = [i / rate for i in range(requests)]
    start = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(target, schedule[n::concurrency], start, tally), daemon=True)
        for n in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = requests - tally.outcomes["ok"]
    times = sorted(tally.failure_times)
    return {
        "requests": requests,
        "ok": tally.outcomes["ok"],
        "failed": failed,
        "failed_share": round(failed / requests, 4) if requests else 0.0,
        "outcomes": dict(sorted(tally.outcomes.items())),
        "served_by": dict(sorted(tally.served_by.items())),
        "first_failure_at": times[0] if times else None,
        "last_failure_at": times[-1] if times else None,
        "seconds": round(time.monotonic() - start, 1),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="load.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("url", help="http://HOST:PORT/PATH")
    parser.add_argument("--requests", type=int, default=300, help="how many requests in all (default 300)")
    parser.add_argument("--concurrency", type=int, default=4, help="workers, one connection each (default 4)")
    parser.add_argument("--rate", type=float, default=10.0, help="requests a second, overall (default 10)")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds one request may take (default 10)"
    )
    parser.add_argument("--expect", default="", help="text a good answer contains")
    parser.add_argument(
        "--broken",
        action="append",
        help="text that makes a 200 degraded (repeat; default: Bookinfo's errors)",
    )
    parser.add_argument("--served-by", default="", help="regular expression whose group 1 names the server")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (
        not 0 < args.requests <= 100_000
        or not 0 < args.concurrency <= 64
        or args.rate <= 0
        or args.timeout <= 0
    ):
        print("load.py: --requests 1..100000, --concurrency 1..64, --rate and --timeout > 0", file=sys.stderr)
        return 2
    result = run(parse_target(args), args.requests, args.concurrency, args.rate)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
