"""What validation reports: findings (error or warning, the field path, a message), and where they collect."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["error", "warning"]
#: A field path while walking a document: keys and list indexes from the document root.
Path = tuple[str | int, ...]

#: A resource reports at most this many findings; one more then says that validation stopped there.
MAX_FINDINGS = 200


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a resource.

    `path` is the field it is about (`spec.http[0].route[1].weight`, `""` for the whole resource) and
    `message` says what is wrong and what is expected, starting with the path. `message_type` names the Istio
    analysis message that describes the problem more precisely than a schema message (the route reachability
    checks: `VirtualServiceUnreachableRule`, `VirtualServiceIneffectiveMatch`), with its arguments in `args`.
    """

    level: Level
    path: str
    message: str
    message_type: str | None = None
    args: tuple[str, ...] = ()

    @property
    def line_key(self) -> str | None:
        """The key Istio's field map uses for the field (`{.spec.http[0].weight}`); None for the resource."""
        return "{." + self.path + "}" if self.path else None

    @property
    def is_error(self) -> bool:
        return self.level == "error"

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def format_path(path: Path) -> str:
    """`("spec", "http", 0, "route")` → `spec.http[0].route`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class Collector:
    """Collects findings for one resource, in order, without duplicates, up to `MAX_FINDINGS`."""

    __slots__ = ("_findings", "_seen", "_truncated", "limit")

    def __init__(self, limit: int = MAX_FINDINGS) -> None:
        self._findings: list[Finding] = []
        self._seen: set[Finding] = set()
        self._truncated = False
        self.limit = limit

    @property
    def full(self) -> bool:
        """Whether the limit is reached; checks stop early when it is (and the findings say so)."""
        if len(self._findings) >= self.limit:
            self._truncated = True
            return True
        return False

    def error(self, path: Path, text: str) -> None:
        self.add("error", path, text)

    def warning(self, path: Path, text: str) -> None:
        self.add("warning", path, text)

    def add(
        self, level: Level, path: Path, text: str, message_type: str | None = None, args: tuple[str, ...] = ()
    ) -> None:
        where = format_path(path)
        message = f"{where}: {text}" if where else text
        finding = Finding(level, where, message, message_type, args)
        if finding in self._seen:
            return
        if self.full:
            return
        self._seen.add(finding)
        self._findings.append(finding)

    def findings(self) -> list[Finding]:
        result = list(self._findings)
        if self._truncated:
            result.append(
                Finding(
                    "error",
                    "",
                    f"validation stopped after {self.limit} findings; fix them and validate again",
                )
            )
        return result


def describe(value: Any) -> str:
    """A value as messages show what was found: `"1x"`, `70000`, `true`, `null`, `a list`, `a mapping`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        shown = value if len(value) <= 80 else value[:77] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence):
        return "a list"
    return f"a {type(value).__name__}"


def quoted(value: str) -> str:
    """A string as messages quote it (JSON-style, shortened when long)."""
    return describe(value)
