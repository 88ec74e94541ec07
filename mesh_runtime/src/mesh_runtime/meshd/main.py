"""The `meshd` command: `serve`, `init`, `token create` and `token add`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO

import uvloop

from .. import __version__
from ..ca import BootstrapTokens, PatternError, TokenStoreError
from ..ca.tokens import MIN_TOKEN_LENGTH, TokenFormatError, check_token_format
from ..command.errors import EXIT_ERROR, EXIT_USAGE, CommandError
from ..command.flags import ArgumentParser
from ..discovery.store import StoreError
from ..validation.formats import parse_duration
from ..xds.heartbeat import DEFAULT_INTERVAL as DEFAULT_HEARTBEAT_INTERVAL
from .datadir import DEFAULT_DATA_DIR, DataDir, DataDirError, Initialized, initialize, read_trust_domain
from .proxies import GRACE_PERIOD
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

    token = commands.add_parser("token", help="bootstrap tokens for workloads")
    token_commands = token.add_subparsers(title="token commands", metavar="COMMAND")
    create = token_commands.add_parser(
        "create",
        help="issue a bootstrap token",
        description="Issue a bootstrap token allowing the given identities; it is printed once.",
    )
    _token_flags(create, ttl_help="how long the token is valid (e.g. 24h; default: no expiry)")
    create.set_defaults(handler=run_token_create)

    add = token_commands.add_parser(
        "add",
        help="register a bootstrap token made elsewhere (idempotent)",
        description="Register the bootstrap token in --token-file (made elsewhere, e.g. by "
        "`secrets.token_urlsafe(32)` on an Ansible controller) allowing exactly the given identities. "
        "Prints `created ID` for a new token, `unchanged ID` when it already allows exactly these identities "
        "with this description (the store file is not touched), `configured ID` when its identities or "
        "description were replaced (it keeps its id). The token itself is never printed. A running meshd "
        "honours the change at once.",
    )
    add.add_argument(
        "--token-file",
        required=True,
        metavar="FILE",
        help=f"the file holding the token (surrounding whitespace ignored; at least {MIN_TOKEN_LENGTH} "
        "URL-safe base64 letters: A-Z a-z 0-9 - _)",
    )
    _token_flags(
        add,
        ttl_help="how long the token is valid, counted from when it was first added (e.g. 24h; "
        "default: keep the current expiry, none for a new token)",
    )
    add.set_defaults(handler=run_token_add)
    return parser


def _token_flags(parser: argparse.ArgumentParser, ttl_help: str) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"meshd's data directory (default ${ENV_DATA_DIR} or {DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--identity",
        action="append",
        required=True,
        metavar="NS/SA",
        help="an identity the token allows: <namespace>/<service account> or <namespace>/* (repeatable)",
    )
    parser.add_argument("--ttl", default=None, help=ttl_help)
    parser.add_argument("--description", default="", help="what the token is for")


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
    )
    uvloop.run(Meshd(init, options).run())
    return 0


def _token_store(args: argparse.Namespace) -> BootstrapTokens:
    root = _data_dir(args)
    data_dir = DataDir(root)
    if not data_dir.settings.exists():
        raise CommandError(f"{root} is not a meshd data directory: run 'meshd init --data-dir {root}' first")
    return BootstrapTokens(data_dir.bootstrap_tokens, read_trust_domain(root))


def _ttl(args: argparse.Namespace) -> timedelta | None:
    if not args.ttl:
        return None
    nanos = parse_duration(args.ttl)
    if nanos is None or nanos <= 0:
        raise CommandError(f"--ttl: {args.ttl!r} is not a positive duration such as 24h or 30m", EXIT_USAGE)
    return timedelta(microseconds=nanos / 1000)


def run_token_create(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    tokens = _token_store(args)
    ttl = _ttl(args)
    try:
        issued = tokens.issue(args.identity, ttl=ttl, description=args.description)
    except PatternError as exc:
        raise CommandError(f"--identity: {exc}", EXIT_USAGE) from exc
    stdout.write(issued.token + "\n")
    allowed = ", ".join(str(p) for p in issued.grant.patterns)
    stderr.write(f"bootstrap token {issued.grant.token_id} allows {allowed}; it is shown only this once\n")
    return 0


def run_token_add(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    token = _read_token_file(args.token_file)
    tokens = _token_store(args)
    ttl = _ttl(args)
    try:
        result, grant = tokens.register(token, args.identity, ttl=ttl, description=args.description)
    except PatternError as exc:
        raise CommandError(f"--identity: {exc}", EXIT_USAGE) from exc
    stdout.write(f"{result} {grant.token_id}\n")
    return 0


def _read_token_file(name: str) -> str:
    """The token in the file, stripped; a usage error naming the file (never quoting the token) otherwise."""
    path = Path(name).expanduser()
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CommandError(f"--token-file {path}: cannot be read: {exc.strerror}", EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise CommandError(f"--token-file {path}: not a UTF-8 text file", EXIT_USAGE) from None
    if not token:
        raise CommandError(f"--token-file {path}: the file is empty; put the token in it", EXIT_USAGE)
    try:
        check_token_format(token)
    except TokenFormatError as exc:
        raise CommandError(f"--token-file {path}: {exc}", EXIT_USAGE) from None
    return token


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
