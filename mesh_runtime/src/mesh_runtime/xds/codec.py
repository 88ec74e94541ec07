"""JSON round trip for the contract's dataclasses, driven by their type hints (no per-type code)."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")


class DecodeError(ValueError):
    """Config that does not fit the contract; the message names the field path."""


#: Types encoded as they are.
_SCALARS = frozenset({str, int, float, bool, type(None)})
#: Each dataclass's field names, in order; None for a type that is not a dataclass (learnt as met).
_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def encode(value: Any) -> Any:
    """A dataclass tree as plain JSON-able data (tuples become lists, int dict keys become strings).

    meshd encodes every proxy's config on every push: the field names of each dataclass are looked up once,
    and plain values return at once."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    try:
        names = _FIELD_NAMES[cls]
    except KeyError:
        names = _FIELD_NAMES[cls] = _field_names(cls)
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def _field_names(cls: type) -> tuple[str, ...] | None:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    return None


def decode(cls: type[T], data: Any, path: str = "") -> T:
    """Build `cls` from `encode`'s output, checking types; raises DecodeError naming the bad field."""
    return typing.cast(T, _decode(cls, data, path or cls.__name__))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _decode(tp: Any, data: Any, path: str) -> Any:
    origin = get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise DecodeError(f"{path}: expected an object, found {type(data).__name__}")
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _decode(hints[f.name], data[f.name], f"{path}.{f.name}")
        unknown = set(data) - {f.name for f in dataclasses.fields(tp)}
        if unknown:
            raise DecodeError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
        try:
            return tp(**kwargs)
        except TypeError as exc:
            raise DecodeError(f"{path}: {exc}") from exc
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, data, path)
            except DecodeError as exc:
                errors.append(str(exc))
        raise DecodeError(errors[0] if errors else f"{path}: unexpected null")
    if origin is typing.Literal:
        if data not in get_args(tp):
            raise DecodeError(f"{path}: {data!r} is not one of {', '.join(map(repr, get_args(tp)))}")
        return data
    if origin is tuple:
        if not isinstance(data, list):
            raise DecodeError(f"{path}: expected a list, found {type(data).__name__}")
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
        if len(args) != len(data):
            raise DecodeError(f"{path}: expected {len(args)} items, found {len(data)}")
        return tuple(
            _decode(a, item, f"{path}[{i}]") for i, (a, item) in enumerate(zip(args, data, strict=True))
        )
    if origin is dict:
        if not isinstance(data, dict):
            raise DecodeError(f"{path}: expected an object, found {type(data).__name__}")
        key_type, value_type = get_args(tp)
        return {
            _decode(key_type, int(k) if key_type is int else k, f"{path}.{k}"): _decode(
                value_type, v, f"{path}.{k}"
            )
            for k, v in data.items()
        }
    return _scalar(tp, data, path)


def _scalar(tp: Any, data: Any, path: str) -> Any:
    if tp is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    if tp is int and isinstance(data, int) and not isinstance(data, bool):
        return data
    if tp is bool and isinstance(data, bool):
        return data
    if tp is str and isinstance(data, str):
        return data
    if tp is Any:
        return data
    raise DecodeError(f"{path}: expected {getattr(tp, '__name__', tp)}, found {type(data).__name__} {data!r}")
