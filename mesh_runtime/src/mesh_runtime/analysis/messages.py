"""Analyzer messages: a type from the catalogue, its arguments, and the resource and field it is about."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import ISTIO_API_VERSION
from ..resources import Resource
from .level import Level

DOCS_BASE = f"https://istio.io/v{ISTIO_API_VERSION}/docs/reference/config/analysis"


@dataclass(frozen=True, slots=True)
class MessageType:
    code: str
    name: str
    level: Level
    template: str

    def __call__(self, resource: Resource | None, *args: Any, field_path: str | None = None) -> Message:
        return Message(self, tuple(args), resource, field_path)


@dataclass(frozen=True, slots=True)
class Message:
    type: MessageType
    args: tuple[Any, ...]
    resource: Resource | None = None
    #: The field the message is about (`{.spec.hosts[0]}`): its line is the reference's line.
    field_path: str | None = field(default=None, compare=False)

    @property
    def code(self) -> str:
        return self.type.code

    @property
    def level(self) -> Level:
        return self.type.level

    @property
    def text(self) -> str:
        return go_format(self.type.template, self.args)

    @property
    def origin(self) -> str | None:
        return self.resource.friendly_name if self.resource is not None else None

    @property
    def reference(self) -> str | None:
        if self.resource is None or self.resource.source is None:
            return None
        return self.resource.source.reference(self.field_path)

    @property
    def documentation_url(self) -> str:
        return f"{DOCS_BASE}/{self.type.code.lower()}/?ref=istioctl-analyze"

    def render(self, color: bool = False) -> str:
        """One log line: `Level [CODE] (Kind ns/name file:line) text`."""
        level = self.level.name
        if color:
            level = f"{_COLORS.get(level, '')}{level}\033[0m"
        origin = ""
        if self.origin is not None:
            reference = self.reference
            origin = f" ({self.origin} {reference})" if reference else f" ({self.origin})"
        return f"{level} [{self.code}]{origin} {self.text}"

    def to_dict(self) -> dict[str, str]:
        """The object `-o json|yaml` prints, with istioctl's keys."""
        result = {
            "code": self.code,
            "documentationUrl": self.documentation_url,
            "level": self.level.name,
            "message": self.text,
        }
        if self.origin is not None:
            result["origin"] = self.origin
            reference = self.reference
            if reference:
                result["reference"] = reference
        return result

    def sort_key(self) -> tuple[Any, ...]:
        """Istio's order: level, code, messages without a resource first, then resource, then text."""
        resource = self.resource
        resource_key = (
            (1, resource.kind.kind, resource.name, resource.namespace)
            if resource is not None
            else (0, "", "", "")
        )
        return (self.level.sort_order, self.code, resource_key, self.render())


_COLORS = {"Error": "\033[1;31m", "Warning": "\033[33m"}
_VERB = re.compile(r"%([-+# 0]*\d*(?:\.\d+)?)([svqdt%])")


def go_format(template: str, args: Sequence[Any]) -> str:
    """Render a Go format string with the verbs the catalogue uses: %s %v %q %d %t %%."""
    values = iter(args)

    def replace(match: re.Match[str]) -> str:
        verb = match.group(2)
        if verb == "%":
            return "%"
        try:
            value = next(values)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        if verb == "q":
            return go_quote(value)
        if verb == "d":
            return str(int(value)) if not isinstance(value, (list, tuple)) else go_value(value)
        return go_value(value)

    return _VERB.sub(replace, template)


def go_value(value: Any) -> str:
    """How Go's %v prints a value: lists as `[a b]`, booleans lowercase."""
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def go_quote(value: Any) -> str:
    """How Go's %q prints a string (a double-quoted, escaped literal); lists as `["a" "b"]`."""
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_quote(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
