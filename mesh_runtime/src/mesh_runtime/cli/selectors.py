"""Label and field selectors as kubectl takes them (`-l app=reviews,version!=v1`, `--field-selector
metadata.name=reviews`), parsed once and matched against documents as `meshctl get` prints them.

Label selectors have Kubernetes' grammar: requirements separated by commas, each `key`, `!key`, `key=value`
(`==` too), `key!=value`, `key in (a,b)` or `key notin (a,b)`. Field selectors are `field=value` (`==`) or
`field!=value`; like the Kubernetes API server, meshd's kinds support `metadata.name` and
`metadata.namespace`, Pods also `spec.nodeName`, `spec.serviceAccountName`, `status.phase` and
`status.podIP`, Namespaces `status.phase`. A selector that cannot be parsed is a usage error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..command.errors import EXIT_USAGE, CommandError
from ..validation.formats import label_key, label_value

#: The fields every kind can be selected by, and those some kinds add (kubectl's field labels).
COMMON_FIELDS = ("metadata.name", "metadata.namespace")
KIND_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.serviceAccountName", "status.phase", "status.podIP"),
    "Namespace": ("status.phase",),
}
_SET_REQUIREMENT = re.compile(r"(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\Z")
_EQUALITY = re.compile(r"(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)\Z")


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    """One requirement of a label selector: `key` `op` (`=`, `!=`, `in`, `notin`, `exists`, `!`) values."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, Any]) -> bool:
        present = self.key in labels
        value = str(labels[self.key]) if present else None
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # != and notin


def split_requirements(text: str) -> list[str]:
    """The comma-separated parts of a selector, commas inside parentheses kept."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


def parse_label_selector(text: str) -> tuple[LabelRequirement, ...]:
    """A label selector's requirements; CommandError (usage) naming the one that cannot be parsed."""
    if not text.strip():
        return ()
    requirements = []
    for part in split_requirements(text):
        requirements.append(_label_requirement(part, text))
    return tuple(requirements)


def _label_requirement(part: str, text: str) -> LabelRequirement:
    def fail(problem: str) -> CommandError:
        return CommandError(
            f"--selector {text!r}: unable to parse requirement {part!r}: {problem}", EXIT_USAGE
        )

    if not part:
        raise fail("it is empty (a comma too many?)")
    requirement: LabelRequirement
    set_match = _SET_REQUIREMENT.match(part)
    equality = _EQUALITY.match(part)
    if set_match:
        values = tuple(v.strip() for v in set_match["values"].split(","))
        if values == ("",):
            raise fail(f"{set_match['op']} needs at least one value, as in 'key in (a,b)'")
        requirement = LabelRequirement(set_match["key"], set_match["op"], values)
    elif equality:
        op = "=" if equality["op"] == "==" else equality["op"]
        requirement = LabelRequirement(equality["key"], op, (equality["value"],))
    elif part.startswith("!") and re.fullmatch(r"![^\s!=(),]+", part):
        requirement = LabelRequirement(part[1:].strip(), "!")
    elif re.fullmatch(r"[^\s!=(),]+", part):
        requirement = LabelRequirement(part, "exists")
    else:
        raise fail("write key, !key, key=value, key!=value, key in (a,b) or key notin (a,b)")
    problem = label_key(requirement.key) or next(
        (p for p in (label_value(v) for v in requirement.values) if p), None
    )
    if problem:
        raise fail(problem)
    return requirement


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One requirement of a field selector: the field's dotted path, `=` or `!=`, and the value."""

    field: str
    op: str
    value: str

    def matches(self, document: Mapping[str, Any]) -> bool:
        found: Any = document
        for step in self.field.split("."):
            found = found.get(step) if isinstance(found, Mapping) else None
        text = "" if found is None else str(found)
        return (text == self.value) == (self.op == "=")


def parse_field_selector(text: str, kind: str) -> tuple[FieldRequirement, ...]:
    """A field selector's requirements for documents of `kind`; CommandError (usage) for a field the kind
    cannot be selected by, or a requirement that cannot be parsed."""
    if not text.strip():
        return ()
    supported = (*COMMON_FIELDS, *KIND_FIELDS.get(kind, ()))
    requirements = []
    for part in split_requirements(text):
        match = re.fullmatch(r"(?P<field>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*)", part)
        if match is None:
            raise CommandError(
                f"--field-selector {text!r}: invalid selector {part!r}: write field=value or field!=value",
                EXIT_USAGE,
            )
        if match["field"] not in supported:
            raise CommandError(
                f"--field-selector {text!r}: field label not supported: {match['field']} ({kind} supports "
                f"{', '.join(supported)})",
                EXIT_USAGE,
            )
        op = "!=" if match["op"] == "!=" else "="
        requirements.append(FieldRequirement(match["field"], op, match["value"].strip()))
    return tuple(requirements)


@dataclass(frozen=True, slots=True)
class Selector:
    """Both selectors of one `meshctl get`: a document is selected when it meets every requirement."""

    labels: tuple[LabelRequirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.labels or self.fields)

    def matches(self, document: Mapping[str, Any]) -> bool:
        metadata = document.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
        labels = labels if isinstance(labels, Mapping) else {}
        return all(r.matches(labels) for r in self.labels) and all(f.matches(document) for f in self.fields)

    def select(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d for d in documents if self.matches(d)]


def selector(label_text: str | None, field_text: str | None, kind: str) -> Selector:
    """The selector of `-l` and `--field-selector` (either may be None) for documents of `kind`."""
    return Selector(parse_label_selector(label_text or ""), parse_field_selector(field_text or "", kind))
