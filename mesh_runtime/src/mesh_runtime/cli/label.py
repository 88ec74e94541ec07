"""`meshctl label namespace NAME key=value key- [--overwrite]`: namespace labels, as kubectl sets them."""

from __future__ import annotations

import argparse
from typing import IO

from ..command.errors import EXIT_DATA, EXIT_USAGE, CommandError
from ..command.flags import add_boolean
from .connection import add_connection_flags, connect


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "label",
        help="Set or remove labels of a namespace",
        description="Set (key=value) or remove (key-) labels of a namespace; "
        "the namespace is created if needed.",
        epilog="examples:\n  meshctl label namespace default istio-injection=enabled\n"
        "  meshctl label namespace default istio-injection-",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", metavar="namespace")
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("labels", nargs="+", metavar="KEY=VALUE|KEY-")
    add_boolean(parser, "--overwrite", default=False, help="allow changing the value of an existing label")
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    if args.kind.lower() not in ("namespace", "namespaces", "ns"):
        raise CommandError(f"meshctl labels namespaces only, not {args.kind!r}", EXIT_USAGE)
    changes = parse_changes(args.labels)
    response = connect(args).request(
        "PATCH", f"/v1/namespaces/{args.name}", {"labels": changes, "overwrite": args.overwrite}
    )
    if response.status == 422 and isinstance(response.body, dict):
        for error in response.body.get("errors", []):
            stderr.write(f"error: {error.get('path')}: {error.get('message')}\n")
        raise CommandError("no labels were changed", EXIT_DATA)
    if response.status == 409:
        raise CommandError(response.error)
    if not response.ok:
        raise CommandError(response.error)
    labeled = "not labeled" if response.body.get("result") == "unchanged" else "labeled"
    stdout.write(f"namespace/{args.name} {labeled}\n")
    return 0


def parse_changes(arguments: list[str]) -> dict[str, str | None]:
    """`key=value` sets, `key-` removes; anything else is a usage error."""
    changes: dict[str, str | None] = {}
    for argument in arguments:
        if "=" in argument:
            key, _, value = argument.partition("=")
            change: str | None = value
        elif argument.endswith("-"):
            key, change = argument[:-1], None
        else:
            raise CommandError(
                f"invalid label {argument!r}: use key=value to set, key- to remove", EXIT_USAGE
            )
        if not key:
            raise CommandError(f"invalid label {argument!r}: the key is empty", EXIT_USAGE)
        changes[key] = change
    return changes
