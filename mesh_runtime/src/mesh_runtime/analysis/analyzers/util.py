"""Helpers shared by analyzers: field paths for line numbers, label selectors, service lookup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def field_path(*parts: str | int) -> str:
    """`field_path("spec", "http", 0, "route")` → `{.spec.http[0].route}`, the key lines are stored under."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return "{" + text + "}"


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether every label of a (non-empty or empty) equality selector is on `labels`."""
    return all(labels.get(key) == str(value) for key, value in selector.items())


def selector_text(selector: Mapping[str, Any]) -> str:
    """A selector as Kubernetes prints it: `a=b,c=d`, keys sorted."""
    return ",".join(f"{key}={selector[key]}" for key in sorted(selector))


def as_mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one: a field of the wrong type counts as absent."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def as_strings(value: Any) -> list[str]:
    """The string items of a list field (`hosts`, `gateways`, `exportTo`); anything else is skipped."""
    return [item for item in as_list(value) if isinstance(item, str)]
