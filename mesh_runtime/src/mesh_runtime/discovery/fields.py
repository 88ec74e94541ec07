"""Typed reads of loosely typed spec fields.

Resources are validated before they are stored, but builders still never trust a field's type: a value of
the wrong type reads as absent, so a surprising document yields less config, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..validation.formats import parse_duration

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, (list, tuple)):
        return value
    return ()


def mappings(value: Any) -> list[Mapping[str, Any]]:
    """The entries of a list that are mappings."""
    return [item for item in sequence(value) if isinstance(item, Mapping)]


def text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in sequence(value) if isinstance(item, str))


def string_map(value: Any) -> dict[str, str]:
    return {k: v for k, v in mapping(value).items() if isinstance(k, str) and isinstance(v, str)}


def integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def seconds(value: Any) -> float | None:
    """A Go duration string (`1.5s`, `100ms`, `1h`) in seconds; None when absent or not a duration."""
    if not isinstance(value, str):
        return None
    nanos = parse_duration(value)
    if nanos is None or nanos < 0:
        return None
    return nanos / 1e9


def percentage(container: Mapping[str, Any], default: float) -> float:
    """Istio's `percentage: {value: N}` (0-100), else the deprecated integer `percent`, else `default`."""
    value = number(mapping(container.get("percentage")).get("value"))
    if value is not None:
        return min(max(value, 0.0), 100.0)
    legacy = integer(container.get("percent"))
    if legacy is not None:
        return float(min(max(legacy, 0), 100))
    return default


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether every selector label is on the workload (an empty selector matches everything)."""
    return all(labels.get(key) == value for key, value in selector.items())
