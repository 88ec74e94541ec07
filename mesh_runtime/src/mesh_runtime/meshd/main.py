"""The `meshd` command: `serve`, `init` and `token create|add|list|revoke` (token_commands.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import uvloop

from .. import __version__
from ..ca import TokenStoreError
from ..command.errors import EXIT_ERROR, EXIT_USAGE, CommandError
from ..command.flags import ArgumentParser
from ..discovery.store import StoreError
from ..validation.formats import parse_duration
from ..xds.heartbeat import DEFAULT_INTERVAL as DEFAULT_HEARTBEAT_INTERVAL
from . import token_commands
from .datadir import DEFAULT_DATA_DIR, DataDirError, Initialized, initialize
from .proxies import GRACE_PERIOD
from .revisions import DEFAULT_REVISION, revision_problem
from .server import API_PORT, DISCOVERY_PORT, MONITORING_PORT, ListenError, Meshd, ServeOptions
from .serving import serving_names

ENV_DATA_DIR = "MESHD_DATA_DIR"


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="meshd",
        description="meshd is meshlab's control plane: CA, discovery and the config API in one process.",
    )
    parser.add_argument("--version", action="version", version=f"meshd {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the control plane", description="Run meshd until SIGTERM.")
    _data_dir_flags(serve)
    serve.add_argument(
        "--listen-address", default="0.0.0.0", help="the address to listen on (default 0.0.0.0)"
    )
    serve.add_argument(
        "--discovery-port", type=_port, default=DISCOVERY_PORT, help="CA and discovery, TLS (15012)"
    )
    serve.add_argument("--api-port", type=_port, default=API_PORT, help="config API, HTTPS (15080)")
    serve.add_argument(
        "--monitoring-port", type=_port, default=MONITORING_PORT, help="monitoring, HTTP (15014)"
    )
    serve.add_argument(
        "--zipkin-address",
        type=_zipkin_address,
        default="",
        metavar="HOST:PORT",
        help="the Zipkin collector every proxy sends its spans to (MeshConfig defaultConfig.tracing.zipkin)",
    )
    serve.add_argument(
        "--trace-sampling",
        type=_percentage,
        default=1.0,
        metavar="PERCENT",
        help="percentage of requests traced, 0-100 (Istio's default: 1)",
    )
    serve.add_argument(
        "--workload-grace-period",
        type=_duration,
        default=GRACE_PERIOD,
        metavar="DURATION",
        help="how long the workload of a proxy whose stream ended or went silent stays registered, "
        "unhealthy (no traffic goes to it), before it is removed; e.g. 30s or 2m (default 30s; Istio's "
        "PILOT_WORKLOAD_ENTRY_GRACE_PERIOD)",
    )
    serve.add_argument(
        "--heartbeat-interval",
        type=_duration,
        default=DEFAULT_HEARTBEAT_INTERVAL,
        metavar="DURATION",
        help="how often meshd pings each proxy on its discovery stream; a stream silent for three intervals "
        "is closed as dead and its workload marked unhealthy at once (default 5s)",
    )
    serve.add_argument(
        "--revision",
        type=_revision,
        default=DEFAULT_REVISION,
        help="this control plane's revision, the value of istio.io/rev that selects it (default: default)",
    )
    serve.add_argument(
        "--follow",
        type=_api_address,
        default=None,
        metavar="HOST:PORT",
        help="run as a second control plane beside the meshd whose config API is at HOST:PORT (Istio's "
        "canary): mirror its config and workloads, serve the proxies of --revision; needs the same data "
        "directory (its CA and tokens; the mirror is kept in <data dir>/revisions/<revision>)",
    )
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    serve.set_defaults(handler=run_serve)

    init = commands.add_parser(
        "init",
        help="create the data directory",
        description="Create the data directory: root CA, admin token, serving certificate. Running it again "
        "changes nothing.",
    )
    _data_dir_flags(init)
    init.set_defaults(handler=run_init)

    token_commands.register(commands)
    return parser


def _data_dir_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"where meshd keeps its state (default ${ENV_DATA_DIR} or {DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--trust-domain", default=None, help="the SPIFFE trust domain (default cluster.local)"
    )
    parser.add_argument("--ca-dir", default=None, help="a plugged-in CA in Istio's cacerts layout")
    parser.add_argument(
        "--hostname",
        action="append",
        default=[],
        help="a name or address clients reach meshd by, for its serving certificate (repeatable)",
    )


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use 0 (any free port) to 65535")
    return int(text)


def _revision(text: str) -> str:
    problem = revision_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _api_address(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid address {text!r}: use the primary meshd's config API as HOST:PORT, e.g. 127.0.0.1:15080"
        )
    return host, int(port)


def _percentage(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"invalid percentage {text!r}: use a number from 0 to 100")
    return value


def _zipkin_address(text: str) -> str:
    host, colon, port = text.rpartition(":")
    if text and (not colon or not host or not port.isdigit() or not 0 < int(port) <= 65535):
        raise argparse.ArgumentTypeError(
            f"invalid collector address {text!r}: use HOST:PORT, e.g. zipkin:9411"
        )
    return text


def _duration(text: str) -> float:
    """A positive duration as Go writes them (30s, 2m, 500ms, 1m30s), in seconds."""
    nanos = parse_duration(text)
    if nanos is None or nanos <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 30s, 2m or 500ms")
    return nanos / 1e9


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR).expanduser().absolute()


def _initialize(args: argparse.Namespace, listen_address: str = "") -> Initialized:
    return initialize(
        _data_dir(args),
        trust_domain=args.trust_domain,
        ca_dir=Path(args.ca_dir).expanduser().absolute() if args.ca_dir else None,
        names=serving_names(args.hostname, listen_address),
    )


def run_init(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    init = _initialize(args)
    stdout.write(
        f"meshd data directory {init.data_dir.root} is ready: trust domain {init.trust_domain}, "
        f"root certificate {init.data_dir.root_cert}, admin token {init.data_dir.admin_token}\n"
    )
    return 0


def run_serve(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        stream=stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.follow is None and args.revision != DEFAULT_REVISION:
        raise CommandError(
            f"--revision {args.revision}: a revision other than {DEFAULT_REVISION} is a second control "
            "plane; give --follow with the first meshd's config API (HOST:PORT)",
            EXIT_USAGE,
        )
    if args.follow is not None and args.revision == DEFAULT_REVISION:
        raise CommandError(
            f"--follow needs a --revision of its own (not {DEFAULT_REVISION}), e.g. --revision canary",
            EXIT_USAGE,
        )
    init = _initialize(args, args.listen_address)
    options = ServeOptions(
        listen_address=args.listen_address,
        discovery_port=args.discovery_port,
        monitoring_port=args.monitoring_port,
        api_port=args.api_port,
        zipkin_address=args.zipkin_address,
        trace_sampling=args.trace_sampling,
        heartbeat_interval=args.heartbeat_interval,
        workload_grace_period=args.workload_grace_period,
        revision=args.revision,
        follow=args.follow,
    )
    uvloop.run(Meshd(init, options).run())
    return 0


def run(
    argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(stderr)
            return EXIT_USAGE
        return int(handler(args, stdout, stderr))
    except CommandError as exc:
        stderr.write(f"meshd: error: {exc}\n")
        return exc.code
    except (DataDirError, StoreError, ListenError, TokenStoreError) as exc:
        stderr.write(f"meshd: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def main() -> None:
    sys.exit(run())
