"""Exit codes as istioctl defines them (sysexits), and the error that carries one."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 64  # incorrect usage: a bad flag or value
EXIT_DATA = 65  # some input files could not be parsed
EXIT_ISSUES = 79  # analyzers found issues at or above the failure threshold


class CommandError(Exception):
    """An error to print as `Error: <message>` on stderr, exiting with `code`."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code
