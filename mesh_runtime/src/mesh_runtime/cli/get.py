"""`meshctl get KIND [NAME] [-n NS | -A] [-l SELECTOR] [--field-selector SELECTOR] [-o yaml|json|name|wide]`:
stored resources, and the registry's workloads as pods, as kubectl shows them.

With -o json or -o yaml, nothing found is an empty List (as kubectl prints it); the other formats say "No
resources found" on stderr. `--ignore-not-found` makes a NAME that is not there no error.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import IO, Any

import yaml

from ..command.errors import EXIT_USAGE, CommandError
from ..command.flags import add_boolean
from ..configapi.client import check
from ..resources import kinds as k
from ..resources.kinds import Kind
from .connection import add_connection_flags, connect
from .kinds import is_pods, plural, resolve, singular
from .live import workload_pod
from .selectors import Selector, selector
from .tables import age, render

EPILOG = """\
kinds: virtualservice (vs), destinationrule (dr), gateway (gw), serviceentry (se), sidecar,
peerauthentication (pa), authorizationpolicy (ap), service (svc), workloadentry (we), namespace (ns),
pod (po: the registry's workloads, read-only: READY 2/2 with a connected sidecar, 1/1 without one)

examples:
  meshctl get vs
  meshctl get pods -A -o wide
  meshctl get destinationrules -A
  meshctl get vs reviews -n default -o yaml
  meshctl get pods -l app=reviews,version!=v1 -A
  meshctl get vs --field-selector metadata.name=reviews -o json
"""

Column = tuple[str, Callable[[dict[str, Any]], str]]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "get",
        help="Show stored resources and pods",
        description="Show resources stored in meshd, or the workloads in its registry as pods.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", metavar="KIND")
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.set_defaults(intermixed="names")
    parser.add_argument("-n", "--namespace", default=None, help="the namespace (default: default)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    parser.add_argument(
        "-l",
        "--selector",
        default=None,
        help="a label selector: key, !key, key=value, key!=value, key in (a,b), key notin (a,b), "
        "comma-separated",
    )
    parser.add_argument(
        "--field-selector",
        default=None,
        help="a field selector: field=value or field!=value, comma-separated (metadata.name, "
        "metadata.namespace; pods: spec.nodeName, spec.serviceAccountName, status.phase, status.podIP)",
    )
    add_boolean(parser, "--ignore-not-found", default=False, help="a NAME that is not there is not an error")
    parser.add_argument(
        "-o",
        "--output",
        default="",
        help="output format: yaml, json, name or wide (pods: with IP and NODE) (default: a table)",
    )
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    output = str(args.output).lower()
    if output not in ("", "yaml", "json", "name", "wide"):
        raise CommandError("--output must be one of yaml, json, name, wide", EXIT_USAGE)
    namespace = None if args.all_namespaces else (args.namespace or "default")
    kind_name = "Pod" if is_pods(args.kind) else resolve(args.kind).kind
    chosen = selector(args.selector, args.field_selector, kind_name)
    if chosen and args.names:
        raise CommandError("name cannot be provided when a selector is specified", EXIT_USAGE)
    if is_pods(args.kind):
        return _get_pods(args, output, namespace, stdout, stderr, chosen)
    kind = resolve(args.kind)
    client = connect(args)
    if args.names:
        found = [
            _one(client, kind, namespace or "default", name, args.ignore_not_found) for name in args.names
        ]
        items = [item for item in found if item is not None]
    else:
        query = {"kind": kind.kind}
        if namespace is not None and kind.namespaced:
            query["namespace"] = namespace
        items = chosen.select(check(client.request("GET", "/v1/resources", query=query))["items"])
    single = len(args.names) == 1
    if not items:
        return _nothing_found(output, namespace if kind.namespaced else None, single, stdout, stderr)
    if output in ("yaml", "json"):
        _write_documents(stdout, output, items, single=single)
    elif output == "name":
        stdout.write("".join(f"{singular(kind)}/{item['metadata']['name']}\n" for item in items))
    else:
        stdout.write(_table(kind, items, with_namespace=namespace is None and kind.namespaced))
    return 0


def _nothing_found(output: str, namespace: str | None, single: bool, stdout: IO[str], stderr: IO[str]) -> int:
    """kubectl's answer when nothing is found: an empty List in JSON or YAML (nothing at all for one NAME
    with --ignore-not-found), else a line on stderr."""
    if output in ("yaml", "json"):
        if not single:
            _write_documents(stdout, output, [], single=False)
        return 0
    stderr.write(f"No resources found{f' in {namespace} namespace' if namespace else ''}.\n")
    return 0


def _write_documents(stdout: IO[str], output: str, items: list[dict[str, Any]], single: bool) -> None:
    document = items[0] if single else _list(items)
    if output == "yaml":
        stdout.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))
    else:
        stdout.write(json.dumps(document, indent=4) + "\n")


# -- pods: the registry's workloads ------------------------------------------------------------------------


def _get_pods(
    args: argparse.Namespace,
    output: str,
    namespace: str | None,
    stdout: IO[str],
    stderr: IO[str],
    chosen: Selector,
) -> int:
    registry = check(connect(args).request("GET", "/v1/registry"))
    workloads = sorted(registry.get("workloads", []), key=lambda w: (str(w["namespace"]), str(w["name"])))
    if args.names:
        wanted = namespace or "default"
        pods = [_one_pod(workloads, wanted, name, args.ignore_not_found) for name in args.names]
        items = [pod for found in pods for pod in found]
    else:
        items = [workload_pod(w) for w in workloads if namespace is None or w["namespace"] == namespace]
        items = chosen.select(items)
    if not items:
        return _nothing_found(output, namespace, len(args.names) == 1, stdout, stderr)
    if output in ("yaml", "json"):
        _write_documents(stdout, output, items, single=len(args.names) == 1 and len(items) == 1)
    elif output == "name":
        stdout.write("".join(f"pod/{item['metadata']['name']}\n" for item in items))
    else:
        stdout.write(_pod_table(items, with_namespace=namespace is None, wide=output == "wide"))
    return 0


def _one_pod(
    workloads: list[dict[str, Any]], namespace: str, name: str, ignore_not_found: bool = False
) -> list[dict[str, Any]]:
    found = [workload_pod(w) for w in workloads if w["namespace"] == namespace and w["name"] == name]
    if not found and not ignore_not_found:
        raise CommandError(f'pods "{name}" not found')
    return found


def _pod_table(items: list[dict[str, Any]], with_namespace: bool, wide: bool) -> str:
    columns: list[Column] = [
        ("NAME", lambda d: str(d["metadata"]["name"])),
        ("READY", _pod_ready),
        ("STATUS", lambda d: "Running" if _pod_is_ready(d) else "NotReady"),
        ("RESTARTS", lambda d: str(sum(c.get("restartCount", 0) for c in _container_statuses(d)))),
        ("AGE", lambda d: age(str(d["metadata"].get("creationTimestamp", "")))),
    ]
    if wide:
        columns += _WIDE_POD_COLUMNS
    if with_namespace:
        columns.insert(0, ("NAMESPACE", lambda d: str(d["metadata"]["namespace"])))
    rows = [[cell(item) for _, cell in columns] for item in items]
    return render([header for header, _ in columns], rows)


#: kubectl's `get pods -o wide` columns after AGE. meshd schedules nothing and has no readiness gates.
_WIDE_POD_COLUMNS: list[Column] = [
    ("IP", lambda d: str(d.get("status", {}).get("podIP") or "<none>")),
    ("NODE", lambda d: str(_spec(d).get("nodeName") or "<none>")),
    ("NOMINATED NODE", lambda d: str(d.get("status", {}).get("nominatedNodeName") or "<none>")),
    ("READINESS GATES", lambda d: "<none>"),
]


def _container_statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod.get("status", {}).get("containerStatuses", []))


def _pod_ready(pod: dict[str, Any]) -> str:
    statuses = _container_statuses(pod)
    return f"{sum(1 for c in statuses if c.get('ready'))}/{len(statuses)}"


def _pod_is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _one(
    client: Any, kind: Kind, namespace: str, name: str, ignore_not_found: bool = False
) -> dict[str, Any] | None:
    path = (
        f"/v1/namespaces/{name}" if kind == k.NAMESPACE else f"/v1/resources/{kind.kind}/{namespace}/{name}"
    )
    response = client.request("GET", path)
    if response.status == 404:
        if ignore_not_found:
            return None
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
