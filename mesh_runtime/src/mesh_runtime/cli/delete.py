"""`meshctl delete KIND NAME... [-n NS]` or `meshctl delete -f FILE`: remove stored resources."""

from __future__ import annotations

import argparse
from typing import IO

from ..resources import kinds as k
from ..resources import load_text
from ..resources.kinds import Kind
from .apply import read_inputs
from .client import ApiClient, add_connection_flags, connect
from .errors import EXIT_DATA, EXIT_ERROR, EXIT_USAGE, CommandError
from .flags import add_boolean
from .kinds import plural, resolve, singular


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "delete",
        help="Delete stored resources",
        description="Delete resources by kind and name, or every resource named in files. "
        "Deleting a namespace deletes everything in it.",
        epilog="examples:\n  meshctl delete vs reviews\n  meshctl delete -f virtual-service-all-v1.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", nargs="?", metavar="KIND")
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("-f", "--filename", action="append", default=[], metavar="FILE|DIR|-")
    parser.add_argument("-n", "--namespace", default=None, help="the namespace (default: default)")
    add_boolean(
        parser, "--ignore-not-found", default=False, help="a resource that is not there is not an error"
    )
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
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
    for kind, namespace, name in targets:
        if _delete(client, kind, namespace, name):
            stdout.write(f'{singular(kind)} "{name}" deleted\n')
        elif not args.ignore_not_found:
            missing.append(f'{plural(kind)} "{name}" not found')
    if missing:
        raise CommandError("\n".join(missing), EXIT_ERROR)
    return 0


def _delete(client: ApiClient, kind: Kind, namespace: str, name: str) -> bool:
    path = (
        f"/v1/namespaces/{name}" if kind == k.NAMESPACE else f"/v1/resources/{kind.kind}/{namespace}/{name}"
    )
    response = client.request("DELETE", path)
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
