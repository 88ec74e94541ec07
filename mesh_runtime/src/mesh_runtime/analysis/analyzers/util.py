"""Typed reads of loosely typed fields, as analyzers make them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def as_mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one: a field of the wrong type counts as absent."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def as_strings(value: Any) -> list[str]:
    """The string items of a list field (`hosts`, `gateways`, `exportTo`); anything else is skipped."""
    return [item for item in as_list(value) if isinstance(item, str)]
