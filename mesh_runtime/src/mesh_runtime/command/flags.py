"""Flag parsing in istioctl's style: `--flag=false` booleans, usage errors exiting 64."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

from .errors import EXIT_USAGE, CommandError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with Go-style boolean flags, and usage errors as CommandError with istioctl's exit code 64.

    A boolean flag given alone is true and never takes the next argument as its value (`--color file.yaml`);
    `--flag=false` sets it false, as with Go's flag package.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: option string → the long name of a boolean flag
        self.boolean_flags: dict[str, str] = {}

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message}\nRun '{self.prog} --help' for usage.", EXIT_USAGE)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args is not None:
            args = [self._explicit_boolean(arg) for arg in args]
        return super().parse_known_args(args, namespace)

    def _explicit_boolean(self, arg: str) -> str:
        long_name = self.boolean_flags.get(arg)
        return f"{long_name}=true" if long_name else arg


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "t", "1"):
        return True
    if lowered in ("false", "f", "0"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: use true or false")


def add_boolean(parser: argparse.ArgumentParser, *names: str, default: bool, help: str) -> None:
    """A Go-style boolean flag: true when given alone, or `--name=true|false`."""
    parser.add_argument(*names, type=boolean, default=default, metavar="BOOL", help=help)
    if isinstance(parser, ArgumentParser):
        long_name = max(names, key=len)
        parser.boolean_flags.update({name: long_name for name in names})
