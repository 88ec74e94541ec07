"""The `meshctl` entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO

from .. import __version__
from ..command.errors import EXIT_ERROR, CommandError
from ..command.flags import ArgumentParser
from . import analyze, apply, delete, get, label, proxy_config, proxy_status, version


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="meshctl",
        description="meshctl controls meshlab's service mesh; its commands speak istioctl's language.",
    )
    parser.add_argument("--version", action="version", version=f"meshctl {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    analyze.register(subparsers)
    apply.register(subparsers)
    get.register(subparsers)
    delete.register(subparsers)
    label.register(subparsers)
    proxy_status.register(subparsers)
    proxy_config.register(subparsers)
    version.register(subparsers)
    return parser


def parse_intermixed(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse as kubectl does: `get pods -n default NAME` and `get pods NAME -n default` mean the same.

    argparse fills a trailing list positional (NAME ..., FILE ...) from the words before the first option
    only; a command that has one names it with `set_defaults(intermixed=<dest>)`, and the words after an
    option join it in order. Anything else left over is an error, as argparse says it.
    """
    args, extra = parser.parse_known_args(argv)
    dest = getattr(args, "intermixed", None)
    if extra and dest and not any(word.startswith("-") and word != "-" for word in extra):
        getattr(args, dest).extend(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def run(
    argv: Sequence[str] | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parse_intermixed(parser, argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(stderr)
            return 64
        return int(handler(args, stdin, stdout, stderr))
    except CommandError as exc:
        stdout.flush()
        stderr.write(f"Error: {exc}\n")
        return exc.code
    except KeyboardInterrupt:
        stderr.write("Error: interrupted\n")
        return 130
    except Exception as exc:  # a bug: say so in one line, never a traceback
        stderr.write(f"Error: internal error in meshctl ({type(exc).__name__}: {exc}); please report it\n")
        return EXIT_ERROR


def main() -> None:
    sys.exit(run())
