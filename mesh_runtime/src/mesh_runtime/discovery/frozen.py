"""Deeply immutable copies of JSON-like documents, and back.

The store hands out every document frozen (mappings become read-only views, lists become tuples), so a
snapshot can share them with every builder without copying and without anyone changing them by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


def freeze(value: Any) -> Any:
    """A read-only deep copy: dict → MappingProxyType, list/tuple → tuple; scalars unchanged."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a (possibly frozen) document: mappings → dict, sequences → list."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value
