"""`meshctl proxy-status [PROXY]`: every connected proxy and whether it has the config meshd last sent."""

from __future__ import annotations

import argparse
import json
from typing import IO, Any

from ..command.errors import EXIT_USAGE, CommandError
from ..configapi.client import check
from .connection import add_connection_flags, connect
from .tables import render

HEADERS = ("NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION")
#: meshlab runs one mesh per meshd: its proxies are all in this cluster.
CLUSTER = "meshlab"
DEFAULT_REVISION = "default"
EPILOG = """\
ISTIOD: the control plane serving the proxy, meshd-<revision> when it is another revision's (a canary).
SYNCED: the proxy acknowledged the last config sent; STALE: it has not (yet), or rejected it (see -o json
for the error); NOT SENT: nothing was sent. CDS, LDS and RDS follow full pushes; EDS endpoint pushes too.
"""


def control_plane_name(revision: str, host: str) -> str:
    """The ISTIOD column: which revision's meshd serves the proxy (istiod-canary-… in Istio)."""
    return f"meshd@{host}" if revision == DEFAULT_REVISION else f"meshd-{revision}@{host}"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "proxy-status",
        aliases=["ps"],
        help="Show each proxy's sync state with meshd",
        description="Show every proxy connected to meshd and whether it is in sync with its config.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("proxy", nargs="?", metavar="PROXY", help="only this proxy (<workload>.<namespace>)")
    parser.add_argument("-o", "--output", default="", help="output format: json (default: a table)")
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    output = str(args.output).lower()
    if output not in ("", "json"):
        raise CommandError("--output must be 'json' (or omitted)", EXIT_USAGE)
    client = connect(args)
    rows: list[dict[str, Any]] = check(client.request("GET", "/v1/proxies"))["items"]
    if args.proxy:
        rows = [r for r in rows if r["id"] == args.proxy]
        if not rows:
            raise CommandError(f"no proxy {args.proxy!r} is connected to meshd")
    if output == "json":
        stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    table = [
        [
            r["id"],
            CLUSTER,
            r["cds"],
            r["lds"],
            r["eds"],
            r["rds"],
            "NOT SENT",
            control_plane_name(r.get("revision", DEFAULT_REVISION), client.host),
            r["proxy_version"] or "unknown",
        ]
        for r in rows
    ]
    stdout.write(render(HEADERS, table))
    return 0
