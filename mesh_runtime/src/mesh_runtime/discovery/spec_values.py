"""Istio's compound spec values, read for the config builders: a Go duration in seconds, a percentage
(`percentage.value`, else the deprecated `percent`). Plain fields are read with `resources.fields`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..resources.fields import integer, mapping, number
from ..validation.formats import parse_duration


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
