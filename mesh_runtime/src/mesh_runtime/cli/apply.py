"""`meshctl apply -f FILE|DIR|-`: validate every document, then store all of them in one transaction."""

from __future__ import annotations

import argparse
import json
import os
from typing import IO, Any

from ..command.errors import EXIT_DATA, EXIT_USAGE, CommandError
from ..command.flags import add_boolean
from ..resources.kinds import lookup
from ..resources.loader import RECOGNIZED_EXTENSIONS
from .connection import add_connection_flags, connect
from .kinds import singular

EPILOG = """\
Every document of every file is checked first (schema, field types, Istio's semantic rules); if any is
invalid, nothing is stored and each problem is printed with its file, line and field path.

exit status: 0 applied, 1 no control plane or refused, 64 usage, 65 invalid input (nothing stored)

examples:
  meshctl apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml
  meshctl apply -f networking/ --dry-run
  cat rule.yaml | meshctl apply -n prod -f -
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "apply",
        help="Apply configuration from files, directories or stdin",
        description="Apply Istio configuration, Namespaces, Services and WorkloadEntries to meshd.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        metavar="FILE|DIR|-",
        help="what to apply (repeatable)",
    )
    parser.add_argument("-n", "--namespace", default=None, help="the namespace of documents that name none")
    add_boolean(parser, "--dry-run", default=False, help="check and report, store nothing")
    parser.add_argument("-o", "--output", default="", help="output format: json (default: lines of text)")
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    if not args.filename:
        raise CommandError(
            "must specify one of -f and -k: give files, directories or - (stdin) with -f", EXIT_USAGE
        )
    output = str(args.output).lower()
    if output not in ("", "json"):
        raise CommandError("--output must be 'json' (or omitted)", EXIT_USAGE)
    files = read_inputs(args.filename, stdin)
    body: dict[str, Any] = {"files": [{"documents": text, "source": source} for source, text in files]}
    if args.namespace:
        body["namespace"] = args.namespace
    response = connect(args).request("POST", "/v1/apply", body, {"dry_run": "true"} if args.dry_run else None)
    data = response.body if isinstance(response.body, dict) else {}
    for warning in data.get("warnings", []):
        stderr.write(f"Warning: {_located(warning)}\n")
    if response.status == 422:
        if output == "json":
            stdout.write(json.dumps(data, indent=2) + "\n")
        for error in data.get("errors", []):
            stderr.write(f"error: {_located(error)}\n")
        count = len(data.get("errors", []))
        raise CommandError(f"nothing was applied: {count} problem(s) in the input", EXIT_DATA)
    if not response.ok:
        raise CommandError(response.error)
    if output == "json":
        stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    suffix = " (dry run)" if args.dry_run else ""
    for result in data.get("results", []):
        stdout.write(f"{_name(result)} {result['result']}{suffix}\n")
    return 0


def read_inputs(paths: list[str], stdin: IO[str]) -> list[tuple[str, str]]:
    """(source, text) of every file: `-` is stdin, directories are walked for .yaml, .yml and .json."""
    found: list[tuple[str, str]] = []
    for path in paths:
        if path == "-":
            found.append(("-", stdin.read()))
        elif os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    if name.endswith(RECOGNIZED_EXTENSIONS):
                        found.append(_read(os.path.join(root, name)))
        else:
            found.append(_read(path))
    return found


def _read(path: str) -> tuple[str, str]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return path, handle.read()
    except FileNotFoundError as exc:
        raise CommandError(f'the path "{path}" does not exist') from exc
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text", EXIT_DATA) from exc
    except OSError as exc:
        raise CommandError(f"{path}: cannot be read: {exc.strerror}") from exc


def _name(result: dict[str, Any]) -> str:
    kind = lookup(result.get("group", ""), result["kind"])
    prefix = singular(kind) if kind is not None else result["kind"].lower()
    return f"{prefix}/{result['name']}"


def _located(problem: dict[str, Any]) -> str:
    where = problem.get("source") or "-"
    if problem.get("line"):
        where += f":{problem['line']}"
    resource = f" {problem['resource']}:" if problem.get("resource") else ""
    return f"{where}:{resource} {problem.get('message', '')}"
