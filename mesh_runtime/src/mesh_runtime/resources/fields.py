"""Typed reads of the fields of a document that may hold anything: the one set of accessors discovery,
validation and analysis share. A field of the wrong type reads as absent (an empty mapping or list, "",
None), so code that reads a surprising document does less, never raises. Validation reports the wrong type
itself; the builders and analyzers read documents validation has already seen, or that a user's file holds.

Each name means one thing: `strings` is the string items of a list, `indexed_strings` the same with their
index (for a finding's path), `string_map` / `string_entries` the string entries of a mapping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


def mapping(value: Any) -> Mapping[Any, Any]:
    """`value` when it is a mapping, else an empty one. Its keys are whatever the document holds (YAML
    allows keys that are not strings): read them with `string_entries` where that matters."""
    return value if isinstance(value, Mapping) else _EMPTY


def sequence(value: Any) -> Sequence[Any]:
    """`value` when it is a list (or tuple), else an empty one."""
    if isinstance(value, (list, tuple)):
        return value
    return ()


def mappings(value: Any) -> list[Mapping[str, Any]]:
    """The entries of a list that are mappings."""
    return [item for item in sequence(value) if isinstance(item, Mapping)]


def text(value: Any, default: str = "") -> str:
    """`value` when it is a string, else `default`."""
    return value if isinstance(value, str) else default


def strings(value: Any) -> tuple[str, ...]:
    """The string items of a list field (`hosts`, `gateways`, `exportTo`); anything else is skipped."""
    return tuple(item for item in sequence(value) if isinstance(item, str))


def indexed_strings(value: Any) -> Iterator[tuple[int, str]]:
    """(index, item) of every string item of a list: where each stands, for a finding's path."""
    for index, item in enumerate(sequence(value)):
        if isinstance(item, str):
            yield index, item


def string_map(value: Any) -> dict[str, str]:
    """The entries of a mapping whose key and value are strings."""
    return dict(string_entries(value))


def string_entries(value: Any) -> Iterator[tuple[str, str]]:
    """(key, value) of every entry of a mapping whose key and value are strings, in the mapping's order."""
    for key, item in mapping(value).items():
        if isinstance(key, str) and isinstance(item, str):
            yield key, item


def integer(value: Any) -> int | None:
    """An integer, or a string of digits, as an int; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def number(value: Any) -> float | None:
    """An int or float as a float; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether every selector label is on the workload (an empty selector matches everything)."""
    return all(labels.get(key) == value for key, value in selector.items())
