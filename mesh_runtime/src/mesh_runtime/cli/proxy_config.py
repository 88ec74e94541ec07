"""`meshctl proxy-config <cluster|listener|route|endpoint|all> <proxy>`: the config meshd sent a proxy.

The endpoint table's OUTLIER CHECK is the proxy's own view, as istioctl reads it from Envoy's admin: the
proxy's admin (`/clusters`, on loopback of this host, at the port the proxy told meshd) says which endpoints
its outlier detection has ejected (`FAILED`); when the admin does not answer, every endpoint shows `OK`.
"""

from __future__ import annotations

import argparse
import functools
import json
import urllib.request
from collections.abc import Callable
from typing import IO, Any

import yaml

from ..command.errors import EXIT_USAGE, CommandError
from ..xds import Cluster, DecodeError, ProxyConfig, RouteMatch, decode, encode
from .connection import add_connection_flags, connect
from .tables import render

SECTIONS = ("cluster", "listener", "route", "endpoint")
_ALIASES = {"clusters": "cluster", "listeners": "listener", "routes": "route", "endpoints": "endpoint"}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "proxy-config",
        aliases=["pc"],
        help="Show the config meshd sent a proxy",
        description="Show a proxy's clusters, listeners, routes or endpoints, as meshd last sent them "
        "(endpoint-only pushes included).",
        epilog="examples:\n  meshctl proxy-config cluster productpage-v1.default\n"
        "  meshctl proxy-config route productpage-v1.default -o json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("section", metavar="cluster|listener|route|endpoint|all")
    parser.add_argument("proxy", metavar="PROXY", help="<workload>.<namespace>, as proxy-status names it")
    parser.add_argument("-o", "--output", default="", help="output format: json or yaml (default: tables)")
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    section = _ALIASES.get(args.section.lower(), args.section.lower())
    if section not in (*SECTIONS, "all"):
        raise CommandError(
            f"unknown section {args.section!r}: use cluster, listener, route, endpoint or all", EXIT_USAGE
        )
    output = str(args.output).lower()
    if output not in ("", "json", "yaml"):
        raise CommandError("--output must be 'json' or 'yaml' (or omitted)", EXIT_USAGE)
    response = connect(args).request("GET", f"/v1/proxies/{args.proxy}/config")
    if not response.ok:
        raise CommandError(response.error)
    try:
        config = decode(ProxyConfig, response.body["config"])
    except (DecodeError, KeyError, TypeError) as exc:
        raise CommandError(f"meshd sent a config meshctl cannot read: {exc}") from exc
    sections = SECTIONS if section == "all" else (section,)
    admin_port = response.body.get("admin_port")
    if output:
        data: Any = {s: _data(config, s) for s in sections} if section == "all" else _data(config, section)
        if output == "json":
            stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            stdout.write(yaml.safe_dump(data, sort_keys=False))
        return 0
    tables = dict(_TABLES)
    if "endpoint" in sections and isinstance(admin_port, int):
        tables["endpoint"] = functools.partial(_endpoints, live=live_health(admin_port))
    stdout.write("\n".join(tables[s](config) for s in sections))
    return 0


def _data(config: ProxyConfig, section: str) -> Any:
    parts = {
        "cluster": config.clusters,
        "listener": config.listeners,
        "route": config.route_configs,
        "endpoint": config.endpoints,
    }
    return encode(parts[section])


def _clusters(config: ProxyConfig) -> str:
    rows = [
        [
            c.service or c.name,
            str(c.port) if c.port else "-",
            c.subset or "-",
            c.direction,
            _cluster_type(c),
            _dotted(c.origin) or "-",
        ]
        for c in config.clusters
    ]
    return render(("SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"), rows)


def _cluster_type(cluster: Cluster) -> str:
    if cluster.load_balancer.policy == "PASSTHROUGH":
        return "ORIGINAL_DST"
    if cluster.direction == "inbound" or not cluster.service:
        return "STATIC"
    return "EDS"


def _listeners(config: ProxyConfig) -> str:
    rows = []
    for listener in config.listeners:
        if listener.direction == "inbound":
            destination = f"Cluster: inbound|{listener.app_port}|| ({listener.peer_authentication.mode})"
        elif listener.route_config:
            destination = f"Route: {listener.route_config}"
        else:
            destination = "Routes: by destination port"
        rows.append([listener.name, listener.direction, listener.address, str(listener.port), destination])
    return render(("NAME", "DIRECTION", "ADDRESS", "PORT", "DESTINATION"), rows)


def _routes(config: ProxyConfig) -> str:
    rows = []
    for route_config in config.route_configs:
        for host in route_config.virtual_hosts:
            domains = host.domains[0] + (f" +{len(host.domains) - 1} more" if len(host.domains) > 1 else "")
            for route in host.routes:
                rows.append(
                    [
                        route_config.name,
                        host.name,
                        domains,
                        _match(route.matches),
                        _dotted(route.origin) or "-",
                    ]
                )
    return render(("NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"), rows)


def _match(matches: tuple[RouteMatch, ...]) -> str:
    if not matches:
        return "/*"
    shown = []
    for match in matches:
        uri = match.uri
        text = "/*" if uri is None else (f"{uri.value}*" if uri.kind == "prefix" else uri.value)
        if match.headers:
            text += " (+headers)"
        shown.append(text)
    return ", ".join(shown)


def _endpoints(config: ProxyConfig, live: dict[tuple[str, str], str] | None = None) -> str:
    """One row an endpoint; OUTLIER CHECK is FAILED where `live` (cluster, address → the proxy's health flags)
    says outlier detection ejected it."""
    rows = []
    for assignment in config.endpoints:
        for e in assignment.endpoints:
            address = f"{e.address}:{e.port}"
            flags = (live or {}).get((assignment.cluster, address), "")
            outlier = "FAILED" if OUTLIER_FLAG in flags else "OK"
            rows.append([address, "HEALTHY" if e.healthy else "UNHEALTHY", outlier, assignment.cluster])
    return render(("ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"), rows)


OUTLIER_FLAG = "/failed_outlier_check"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def live_health(admin_port: int, timeout: float = 2.0) -> dict[tuple[str, str], str]:
    """(cluster, address) → health flags from the proxy's admin /clusters; empty when it does not answer."""
    try:
        with _DIRECT.open(f"http://127.0.0.1:{admin_port}/clusters?format=json", timeout=timeout) as reply:
            statuses = json.loads(reply.read())["cluster_statuses"]
        return {(c["name"], h["address"]): str(h.get("health", "")) for c in statuses for h in c["hosts"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _dotted(origin: str) -> str:
    """`ns/name` → `name.ns`, as istioctl names the rule a cluster or route came from."""
    namespace, _, name = origin.partition("/")
    return f"{name}.{namespace}" if name else origin


_TABLES: dict[str, Callable[[ProxyConfig], str]] = {
    "cluster": _clusters,
    "listener": _listeners,
    "route": _routes,
    "endpoint": _endpoints,
}
