"""`meshctl get KIND [NAME] [-n NS | -A] [-o yaml|json|name]`: stored resources, as kubectl shows them."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import IO, Any

import yaml

from ..resources import kinds as k
from ..resources.kinds import Kind
from .client import add_connection_flags, check, connect
from .errors import EXIT_USAGE, CommandError
from .kinds import plural, resolve, singular
from .tables import age, render

EPILOG = """\
kinds: virtualservice (vs), destinationrule (dr), gateway (gw), serviceentry (se), sidecar,
peerauthentication (pa), authorizationpolicy (ap), service (svc), workloadentry (we), namespace (ns)

examples:
  meshctl get vs
  meshctl get destinationrules -A
  meshctl get vs reviews -n default -o yaml
"""

Column = tuple[str, Callable[[dict[str, Any]], str]]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "get",
        help="Show stored resources",
        description="Show resources stored in meshd.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", metavar="KIND")
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("-n", "--namespace", default=None, help="the namespace (default: default)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    parser.add_argument(
        "-o", "--output", default="", help="output format: yaml, json or name (default: a table)"
    )
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    output = str(args.output).lower()
    if output not in ("", "yaml", "json", "name", "wide"):
        raise CommandError("--output must be one of yaml, json, name, wide", EXIT_USAGE)
    kind = resolve(args.kind)
    namespace = None if args.all_namespaces else (args.namespace or "default")
    client = connect(args)
    if args.names:
        items = [_one(client, kind, namespace or "default", name) for name in args.names]
    else:
        query = {"kind": kind.kind}
        if namespace is not None and kind.namespaced:
            query["namespace"] = namespace
        items = check(client.request("GET", "/v1/resources", query=query))["items"]
    if not items:
        where = f" in {namespace} namespace" if namespace is not None and kind.namespaced else ""
        stderr.write(f"No resources found{where}.\n")
        return 0
    single = len(args.names) == 1
    if output == "yaml":
        document = items[0] if single else _list(items)
        stdout.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))
    elif output == "json":
        stdout.write(json.dumps(items[0] if single else _list(items), indent=4) + "\n")
    elif output == "name":
        stdout.write("".join(f"{singular(kind)}/{item['metadata']['name']}\n" for item in items))
    else:
        stdout.write(_table(kind, items, with_namespace=namespace is None and kind.namespaced))
    return 0


def _one(client: Any, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
    path = (
        f"/v1/namespaces/{name}" if kind == k.NAMESPACE else f"/v1/resources/{kind.kind}/{namespace}/{name}"
    )
    response = client.request("GET", path)
    if response.status == 404:
        raise CommandError(f'{plural(kind)} "{name}" not found')
    return check(response)  # type: ignore[no-any-return]


def _list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _table(kind: Kind, items: list[dict[str, Any]], with_namespace: bool) -> str:
    columns: list[Column] = [("NAME", lambda d: str(d["metadata"]["name"]))]
    columns += _COLUMNS.get(kind.kind, [])
    columns.append(("AGE", lambda d: age(str(d["metadata"].get("creationTimestamp", "")))))
    if with_namespace:
        columns.insert(0, ("NAMESPACE", lambda d: str(d["metadata"].get("namespace", ""))))
    rows = [[cell(item) for _, cell in columns] for item in items]
    return render([header for header, _ in columns], rows)


def _spec(document: dict[str, Any]) -> dict[str, Any]:
    spec = document.get("spec")
    return spec if isinstance(spec, dict) else {}


def _listed(value: Any) -> str:
    return json.dumps(value if isinstance(value, list) else [], separators=(",", ":"))


def _ports(document: dict[str, Any]) -> str:
    ports = _spec(document).get("ports")
    if isinstance(ports, dict):  # WorkloadEntry: name → number
        return ",".join(f"{name}:{number}" for name, number in ports.items()) or "<none>"
    return (
        ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports or [] if isinstance(p, dict))
        or "<none>"
    )


# Istio's CRDs' printer columns, and kubectl's for the core kinds.
_COLUMNS: dict[str, list[Column]] = {
    "VirtualService": [
        ("GATEWAYS", lambda d: _listed(_spec(d).get("gateways"))),
        ("HOSTS", lambda d: _listed(_spec(d).get("hosts"))),
    ],
    "DestinationRule": [("HOST", lambda d: str(_spec(d).get("host", "")))],
    "ServiceEntry": [
        ("HOSTS", lambda d: _listed(_spec(d).get("hosts"))),
        ("LOCATION", lambda d: str(_spec(d).get("location", ""))),
        ("RESOLUTION", lambda d: str(_spec(d).get("resolution", ""))),
    ],
    "PeerAuthentication": [("MODE", lambda d: str((_spec(d).get("mtls") or {}).get("mode", "")))],
    "AuthorizationPolicy": [("ACTION", lambda d: str(_spec(d).get("action", "ALLOW")))],
    "Service": [
        ("PORT(S)", _ports),
        (
            "SELECTOR",
            lambda d: ",".join(f"{a}={b}" for a, b in (_spec(d).get("selector") or {}).items()) or "<none>",
        ),
    ],
    "WorkloadEntry": [("ADDRESS", lambda d: str(_spec(d).get("address", ""))), ("PORT(S)", _ports)],
    "Namespace": [("STATUS", lambda d: "Active")],
}
