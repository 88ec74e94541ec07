"""Flag parsing in istioctl's style: `--flag=false` booleans, usage errors exiting 64."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .errors import EXIT_USAGE, CommandError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is a CommandError with istioctl's exit code 64."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message}\nRun '{self.prog} --help' for usage.", EXIT_USAGE)


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "t", "1", "yes"):
        return True
    if lowered in ("false", "f", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: use true or false")


def add_boolean(parser: argparse.ArgumentParser, *names: str, default: bool, help: str) -> None:
    """A flag that is true when given alone and takes `=true|false` like a Go boolean flag."""
    parser.add_argument(
        *names, type=boolean, nargs="?", const=True, default=default, metavar="BOOL", help=help
    )
