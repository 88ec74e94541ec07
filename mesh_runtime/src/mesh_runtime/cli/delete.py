"""`meshctl delete KIND NAME... [-n NS]` or `meshctl delete -f FILE`: remove stored resources."""

from __future__ import annotations

import argparse
import json
from typing import IO, Any

from ..command.errors import EXIT_DATA, EXIT_ERROR, EXIT_USAGE, CommandError
from ..command.flags import add_boolean
from ..configapi.client import ApiClient
from ..resources import kinds as k
from ..resources import load_text
from ..resources.kinds import Kind
from .apply import read_inputs
from .connection import add_connection_flags, connect
from .kinds import plural, resolve, singular


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "delete",
        help="Delete stored resources",
        description="Delete resources by kind and name, or every resource named in files. "
        "Deleting a namespace deletes everything in it.",
        epilog="examples:\n  meshctl delete vs reviews\n  meshctl delete -f virtual-service-all-v1.yaml\n"
        "  meshctl delete -f rules.yaml --dry-run -o json --ignore-not-found",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", nargs="?", metavar="KIND")
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.set_defaults(intermixed="names")
    parser.add_argument("-f", "--filename", action="append", default=[], metavar="FILE|DIR|-")
    parser.add_argument("-n", "--namespace", default=None, help="the namespace (default: default)")
    add_boolean(
        parser, "--ignore-not-found", default=False, help="a resource that is not there is not an error"
    )
    add_boolean(parser, "--dry-run", default=False, help="report what would be deleted, delete nothing")
    parser.add_argument(
        "-o",
        "--output",
        default="",
        help='output format: json, {"results": [{kind, group, namespace, name, result}], "dry_run"} '
        "with result deleted or absent (default: lines of text)",
    )
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    output = str(args.output).lower()
    if output not in ("", "json"):
        raise CommandError("--output must be 'json' (or omitted)", EXIT_USAGE)
    targets: list[tuple[Kind, str, str]] = []
    if args.filename:
        if args.kind:
            raise CommandError("give either KIND NAME... or -f FILE, not both", EXIT_USAGE)
        targets = _from_files(args.filename, stdin, args.namespace)
    else:
        if not args.kind or not args.names:
            raise CommandError("give KIND and NAME (meshctl delete vs reviews), or -f FILE", EXIT_USAGE)
        kind = resolve(args.kind)
        targets = [(kind, args.namespace or "default", name) for name in args.names]
    client = connect(args)
    missing: list[str] = []
    results: list[dict[str, Any]] = []
    suffix = " (dry run)" if args.dry_run else ""
    for kind, namespace, name in targets:
        deleted = _delete(client, kind, namespace, name, args.dry_run)
        results.append(
            {
                "kind": kind.kind,
                "group": kind.group,
                "namespace": "" if kind == k.NAMESPACE else namespace,
                "name": name,
                "result": "deleted" if deleted else "absent",
            }
        )
        if deleted and output != "json":
            stdout.write(f'{singular(kind)} "{name}" deleted{suffix}\n')
        elif not deleted and not args.ignore_not_found:
            missing.append(f'{plural(kind)} "{name}" not found')
    if output == "json":
        stdout.write(json.dumps({"results": results, "dry_run": args.dry_run}, indent=2) + "\n")
    if missing:
        raise CommandError("\n".join(missing), EXIT_ERROR)
    return 0


def _delete(client: ApiClient, kind: Kind, namespace: str, name: str, dry_run: bool = False) -> bool:
    """Delete one resource (with dry_run, look it up only); False when there is none."""
    path = (
        f"/v1/namespaces/{name}" if kind == k.NAMESPACE else f"/v1/resources/{kind.kind}/{namespace}/{name}"
    )
    response = client.request("GET" if dry_run else "DELETE", path)
    if response.status == 404:
        return False
    if not response.ok:
        raise CommandError(response.error)
    return True


def _from_files(paths: list[str], stdin: IO[str], namespace: str | None) -> list[tuple[Kind, str, str]]:
    targets: list[tuple[Kind, str, str]] = []
    for source, text in read_inputs(paths, stdin):
        loaded = load_text(text, source)
        if loaded.errors:
            raise CommandError("; ".join(str(e) for e in loaded.errors), EXIT_DATA)
        for resource in loaded.resources:
            kind = resolve(resource.kind.kind)
            targets.append((kind, resource.namespace or namespace or "default", resource.name))
    return targets
