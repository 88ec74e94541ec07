"""`mesh-proxy sidecar|gateway …`: one process per workload (sidecar) or per gateway, on uvloop.

With --discovery it bootstraps from meshd (certificate, then the discovery stream) and starts from the last
good config in --data-dir when meshd cannot be reached. With --config-file it serves a static config (and
the credentials already in --data-dir), so the data plane runs without a control plane.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import uvloop

from mesh_runtime import __version__ as runtime_version
from mesh_runtime import xds
from mesh_runtime.ca.identity import DEFAULT_TRUST_DOMAIN, Identity, IdentityError

from .accesslog import AccessLog
from .admin import AdminServer
from .agent import CONFIG_FILE, Agent, AgentSettings, load_config_file
from .localhttp import LocalHttpServer
from .prometheus import StatsServer
from .router import ConfigError
from .server import ProxyRuntime
from .tls import CredentialFiles, TlsConfigError

log = logging.getLogger("mesh_runtime.proxy")

DEFAULT_PORTS = {"inbound": 15006, "outbound": 15001, "admin": 15000}
DRAIN_SECONDS = 5.0


class UsageError(Exception):
    pass


class ListenError(Exception):
    """A port flag's address and port cannot be bound (taken, or not an address of this machine)."""


EPILOG = """\
ports (Istio's sidecar ports as defaults):
  inbound   --inbound-port 15006 on --address: mTLS in front of the app (which binds loopback only); a
            sidecar's further --app-port values get the ports after it
  outbound  --outbound-port 15001 on 127.0.0.1: the app's HTTP_PROXY (sidecar only)
  admin     --admin-port 15000 on 127.0.0.1 only: readiness, config dump, stats, clusters, quit
  stats     --stats-port (default 0: none; Istio's is 15090) on --address: only GET /stats/prometheus, for a
            Prometheus on another machine (meshd's /v1/sd then points there instead of at the admin port)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mesh-proxy",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mode", choices=("sidecar", "gateway"), help="what this proxy is")
    node = parser.add_argument_group("node identity")
    node.add_argument("--namespace", default="default")
    node.add_argument("--workload", help="workload name (default: the service account)")
    node.add_argument("--service-account", default="default")
    node.add_argument("--labels", default="", help="workload labels: k=v,k2=v2")
    node.add_argument(
        "--address",
        default="127.0.0.1",
        help="address other proxies (and Prometheus) reach this one on; inbound, gateway and stats "
        "listeners bind it (default: 127.0.0.1)",
    )
    node.add_argument(
        "--node-name",
        default=None,
        metavar="NAME",
        help="the host this proxy runs on, kubectl's NODE (default: this machine's host name)",
    )
    node.add_argument("--inbound-port", type=port_number, default=DEFAULT_PORTS["inbound"], metavar="PORT")
    node.add_argument("--outbound-port", type=port_number, default=DEFAULT_PORTS["outbound"], metavar="PORT")
    node.add_argument("--admin-port", type=port_number, default=DEFAULT_PORTS["admin"], metavar="PORT")
    node.add_argument(
        "--stats-port",
        type=port_number,
        default=0,
        metavar="PORT",
        help="serve GET /stats/prometheus (only) on --address:PORT (default: 0, none)",
    )
    node.add_argument(
        "--app-port",
        type=port_number,
        action="append",
        default=[],
        metavar="PORT",
        help="app port on loopback (repeat)",
    )
    node.add_argument("--service", action="append", default=[], help="service host this workload implements")
    node.add_argument("--trust-domain", default=DEFAULT_TRUST_DOMAIN)
    control = parser.add_argument_group("control plane")
    control.add_argument("--discovery", metavar="HOST:PORT", help="meshd's CA and discovery address (15012)")
    control.add_argument("--token-file", type=Path, help="bootstrap token for the certificate request")
    control.add_argument("--ca-file", type=Path, help="meshd's root bundle (verifies meshd and peers)")
    control.add_argument(
        "--data-dir", type=Path, default=Path("."), help="key, certificate, last good config"
    )
    control.add_argument("--config-file", type=Path, help="serve this static ProxyConfig (JSON); no meshd")
    parser.add_argument(
        "--access-log",
        metavar="PATH",
        help="write one JSON line per request to PATH (`-`: stdout); default: no access log",
    )
    parser.add_argument("--drain-seconds", type=float, default=DRAIN_SECONDS)
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return parser


def node_from(args: argparse.Namespace) -> xds.Node:
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in args.labels.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--labels: {item!r} is not key=value")
        labels[key] = value
    workload = args.workload or args.service_account
    return xds.Node(
        id=f"{workload}.{args.namespace}",
        type="sidecar" if args.mode == "sidecar" else "gateway",
        namespace=args.namespace,
        workload=workload,
        service_account=args.service_account,
        labels=labels,
        address=args.address,
        inbound_port=args.inbound_port,
        app_ports=tuple(args.app_port),
        outbound_port=args.outbound_port if args.mode == "sidecar" else 0,
        admin_port=args.admin_port,
        proxy_version=runtime_version,
        services=tuple(args.service),
        node_name=node_name_from(args.node_name),
        stats_port=args.stats_port,
    )


def node_name_from(flag: str | None) -> str:
    """`--node-name`, else the machine's host name; UsageError for a name kubectl could not show."""
    name = socket.gethostname() if flag is None else flag
    if name and not any(c.isspace() or not c.isprintable() for c in name):
        return name
    if flag is None:
        raise UsageError(f"this machine's host name {name!r} cannot name its node: give --node-name NAME")
    raise UsageError(f"--node-name: {name!r} is not a host name")


def port_number(text: str) -> int:
    """argparse type of the port flags: a TCP port, 0-65535."""
    if not text.strip().isdecimal() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return int(text)


def check_stats_port(node: xds.Node) -> None:
    """UsageError when --stats-port is also one of the proxy's other ports."""
    if not node.stats_port:
        return
    taken = {"--admin-port": node.admin_port, "--outbound-port": node.outbound_port}
    if node.type == "gateway":
        taken["--inbound-port"] = node.inbound_port  # where the gateway serves its first server
    for index, app_port in enumerate(node.app_ports if node.type == "sidecar" and node.inbound_port else ()):
        name = "--inbound-port" if index == 0 else f"inbound port of --app-port {app_port}"
        taken[name] = node.inbound_port + index
    for name, port in taken.items():
        if port == node.stats_port:
            raise UsageError(f"--stats-port {port} is also the {name}: give each its own port")


async def listen(server: LocalHttpServer, flag: str, address: str, port: int) -> None:
    """Start `server`; ListenError naming the flag when the address and port cannot be bound."""
    try:
        await server.start(address, port)
    except OSError as exc:
        raise ListenError(f"{flag} {port}: cannot listen on {address}:{port}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    """The OS's words for a failed bind (asyncio wraps them in a longer message of its own)."""
    if isinstance(exc, socket.gaierror) or not exc.errno or exc.errno < 0:
        return str(exc.strerror or exc)
    return os.strerror(exc.errno)


async def serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    node = node_from(args)
    check_stats_port(node)
    try:
        identity = Identity(args.trust_domain, node.namespace, node.service_account)
    except IdentityError as exc:
        raise UsageError(str(exc)) from None
    runtime = ProxyRuntime(node, loop)
    if args.access_log:
        try:
            runtime.access_log = AccessLog.open(args.access_log)
        except OSError as exc:
            raise UsageError(f"--access-log: cannot write {args.access_log}: {exc.strerror}") from None
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    admin = AdminServer(runtime, stop.set, runtime_version)
    await listen(admin, "--admin-port", "127.0.0.1", args.admin_port)
    stats = StatsServer(runtime)
    if node.stats_port:
        await listen(stats, "--stats-port", node.address, node.stats_port)
    # Everything imported and built so far lives as long as the process: keep it out of the collector's
    # full passes (they otherwise walk it every ~70k allocations, a few µs per request on average).
    gc.freeze()
    background: list[asyncio.Task[None]] = []
    try:
        if args.config_file is not None:
            await _start_static(runtime, args, identity)
        else:
            background = await _start_with_meshd(runtime, args, identity)
        log.info("mesh-proxy %s %s ready to serve (%s)", args.mode, node.id, _own_ports(node))
        await stop.wait()
    finally:
        log.info("draining (up to %.1fs)", args.drain_seconds)
        admin.close()
        stats.close()
        for task in background:
            task.cancel()
        await runtime.drain(args.drain_seconds)
    return 0


def _own_ports(node: xds.Node) -> str:
    ports = f"admin 127.0.0.1:{node.admin_port}"
    return f"{ports}, stats {node.address}:{node.stats_port}" if node.stats_port else ports


async def _start_static(runtime: ProxyRuntime, args: argparse.Namespace, identity: Identity) -> None:
    files = CredentialFiles.in_directory(args.data_dir, args.ca_file)
    if files.present():
        runtime.load_credentials(files, identity.uri)
    else:
        log.warning("no credentials in %s: mTLS listeners and clusters will fail", args.data_dir)
        runtime.tls_optional = True
    await runtime.apply(load_config_file(args.config_file))


async def _start_with_meshd(
    runtime: ProxyRuntime, args: argparse.Namespace, identity: Identity
) -> list[asyncio.Task[None]]:
    host, sep, port = str(args.discovery).rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--discovery: {args.discovery!r} is not HOST:PORT")
    if args.ca_file is None:
        raise UsageError("--ca-file is needed with --discovery: meshd's root bundle, to verify meshd")
    settings = AgentSettings(
        discovery_host=host.strip("[]"),
        discovery_port=int(port),
        data_dir=args.data_dir,
        ca_file=args.ca_file,
        token_file=args.token_file,
        identity=identity,
    )
    agent = Agent(runtime, settings)
    agent.load_saved_certificate()
    saved = args.data_dir / CONFIG_FILE
    if saved.is_file():
        try:
            await runtime.apply(load_config_file(saved))
            log.info("serving the last good config (%s) until meshd pushes one", runtime.version)
        except ConfigError as exc:
            log.warning("the saved config cannot be served: %s", exc)
    return [
        asyncio.ensure_future(agent.certificate_loop()),
        asyncio.ensure_future(agent.discovery_loop()),
    ]


def main(argv: Sequence[str] | None = None, stderr: TextIO = sys.stderr) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stderr,
    )
    try:
        return uvloop.run(serve(args))
    except (UsageError, ConfigError, TlsConfigError) as exc:
        print(f"mesh-proxy: {exc}", file=stderr)
        return 2
    except (ListenError, OSError) as exc:
        print(f"mesh-proxy: {exc}", file=stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
