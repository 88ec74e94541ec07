"""A small declarative language for the schemas of Istio's kinds.

A schema is a tree of immutable nodes: `Record` (an object with named fields, required fields, groups of which
at most one may be set, and rules that check the object as a whole), `ListOf`, `MapOf`, `Text` (with format
checks), `Integer`, `Number`, `Boolean` and `Choice` (an enum). `node.check(value, path, report)` reports
every problem it finds under `path`; nothing raises on any input. `node.walk(prefix)` enumerates every field
below a node with its path, written `.name` for fields, `[]` for list items and `{}` for map values.

A null value (`field:` or `field: null`) counts as not set, as Kubernetes prunes nulls from objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from .findings import Collector, Path, describe
from .formats import TextCheck

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1


class Report(Collector):
    """Where checks report, with what they need to know about the resource being checked."""

    __slots__ = ("namespace", "name", "annotations")

    def __init__(
        self, namespace: str = "", name: str = "", annotations: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self.namespace = namespace
        self.name = name
        self.annotations: Mapping[str, str] = annotations or {}


#: A check of a whole object, run after its fields were checked: (the object, its path, the report).
Rule = Callable[[Mapping[str, Any], Path, Report], None]


class Node(Protocol):
    def check(self, value: Any, path: Path, report: Report) -> None: ...

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        """(path, node) of every field below this node, paths starting with `prefix`."""
        ...


def _type_error(path: Path, report: Report, expected: str, value: Any) -> None:
    hint = (
        "; quote it to make it a string" if expected == "a string" and isinstance(value, (int, float)) else ""
    )
    report.error(path, f"must be {expected}, found {describe(value)}{hint}")


@dataclass(frozen=True, slots=True)
class Text:
    """A string, optionally checked for a format (each check returns the problem or None)."""

    checks: tuple[TextCheck, ...] = ()
    min_length: int = 0
    max_length: int | None = None

    def check(self, value: Any, path: Path, report: Report) -> None:
        if not isinstance(value, str):
            _type_error(path, report, "a string", value)
            return
        if len(value) < self.min_length:
            report.error(
                path, f"must be a string of at least {self.min_length} character(s), found {describe(value)}"
            )
            return
        if self.max_length is not None and len(value) > self.max_length:
            report.error(path, f"must be at most {self.max_length} characters long, found {len(value)}")
            return
        for check in self.checks:
            problem = check(value)
            if problem:
                report.error(path, problem)
                return

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        return iter(())


@dataclass(frozen=True, slots=True)
class Integer:
    """A whole number in [minimum, maximum]; `noun` names it in messages (`a port number`)."""

    minimum: int | None = None
    maximum: int | None = None
    noun: str = "an integer"

    def check(self, value: Any, path: Path, report: Report) -> None:
        number = as_integer(value)
        if number is None:
            _type_error(path, report, self.noun, value)
            return
        too_small = self.minimum is not None and number < self.minimum
        too_large = self.maximum is not None and number > self.maximum
        if too_small or too_large:
            report.error(
                path, f"must be {self.noun}{_range_text(self.minimum, self.maximum)}, found {number}"
            )

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        return iter(())


@dataclass(frozen=True, slots=True)
class Number:
    """Any number (YAML integers too) in [minimum, maximum]."""

    minimum: float | None = None
    maximum: float | None = None

    def check(self, value: Any, path: Path, report: Report) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _type_error(path, report, "a number", value)
            return
        too_small = self.minimum is not None and value < self.minimum
        too_large = self.maximum is not None and value > self.maximum
        if too_small or too_large or value != value:  # NaN
            report.error(path, f"must be a number{_range_text(self.minimum, self.maximum)}, found {value!r}")

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        return iter(())


@dataclass(frozen=True, slots=True)
class Boolean:
    def check(self, value: Any, path: Path, report: Report) -> None:
        if not isinstance(value, bool):
            report.error(path, f"must be true or false, found {describe(value)}")

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        return iter(())


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a fixed set of names (a protobuf enum, written as its name)."""

    values: tuple[str, ...]

    def check(self, value: Any, path: Path, report: Report) -> None:
        if isinstance(value, str) and value in self.values:
            return
        known = ", ".join(self.values)
        hint = ""
        if isinstance(value, str):
            guess = closest(value, self.values)
            hint = f"; did you mean {guess}?" if guess else ""
        report.error(path, f"must be one of {known}, found {describe(value)}{hint}")

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        return iter(())


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Node
    min_items: int = 0
    max_items: int | None = None

    def check(self, value: Any, path: Path, report: Report) -> None:
        if not isinstance(value, list):
            _type_error(path, report, "a list", value)
            return
        if len(value) < self.min_items:
            report.error(path, f"must have at least {self.min_items} item(s), found {len(value)}")
        if self.max_items is not None and len(value) > self.max_items:
            report.error(path, f"must have at most {self.max_items} items, found {len(value)}")
            return
        for index, item in enumerate(value):
            if report.full:
                return
            self.item.check(item, (*path, index), report)

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        own = prefix + "[]"
        yield own, self.item
        yield from self.item.walk(own)


@dataclass(frozen=True, slots=True)
class MapOf:
    """A mapping of string keys (or port numbers, when `port_keys`) to values of one schema."""

    value: Node
    key_checks: tuple[TextCheck, ...] = ()
    port_keys: bool = False
    min_properties: int = 0
    max_properties: int | None = None

    def check(self, value: Any, path: Path, report: Report) -> None:
        if not isinstance(value, Mapping):
            _type_error(path, report, "a mapping", value)
            return
        if len(value) < self.min_properties:
            report.error(path, f"must have at least {self.min_properties} entry(ies), found {len(value)}")
        if self.max_properties is not None and len(value) > self.max_properties:
            report.error(path, f"must have at most {self.max_properties} entries, found {len(value)}")
            return
        for key, item in value.items():
            if report.full:
                return
            item_path = (*path, str(key))
            if not self._check_key(key, item_path, report):
                continue
            if item is not None or not isinstance(self.value, Record):
                self.value.check(item, item_path, report)

    def _check_key(self, key: Any, path: Path, report: Report) -> bool:
        if self.port_keys:
            number = key if isinstance(key, int) and not isinstance(key, bool) else None
            if isinstance(key, str) and key.isdigit() and key.isascii():
                number = int(key)
            if number is None or not 1 <= number <= 65535:
                report.error(path, f"key must be a port number from 1 to 65535, found {describe(key)}")
                return False
            return True
        if not isinstance(key, str):
            report.error(path, f"key must be a string, found {describe(key)}; quote it")
            return False
        for check in self.key_checks:
            problem = check(key)
            if problem:
                report.error(path, problem)
                return False
        return True

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        own = prefix + "{}"
        yield own, self.value
        yield from self.value.walk(own)


@dataclass(frozen=True, slots=True)
class Record:
    """An object with named fields.

    `required`: fields that must be set. `one_of`: groups of fields of which at most one may be set (a
    protobuf oneof). `rules`: checks of the object as a whole, run after its fields were checked.
    """

    fields: Mapping[str, Node]
    required: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    rules: tuple[Rule, ...] = ()
    _names: tuple[str, ...] = field(default=(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "_names", tuple(self.fields))

    def check(self, value: Any, path: Path, report: Report) -> None:
        if not isinstance(value, Mapping):
            _type_error(path, report, "a mapping of fields", value)
            return
        for key, item in value.items():
            if report.full:
                return
            node = self.fields.get(key) if isinstance(key, str) else None
            if node is None:
                self._unknown(key, (*path, str(key)), report)
            elif item is not None:
                node.check(item, (*path, key), report)
        for name in self.required:
            if value.get(name) is None:
                report.error((*path, name), "required field is not set")
        for group in self.one_of:
            present = [name for name in group if value.get(name) is not None]
            if len(present) > 1:
                report.error(
                    path, f"only one of {_join(group, 'or')} may be set, found {_join(present, 'and')}"
                )
        for rule in self.rules:
            if report.full:
                return
            rule(value, path, report)

    def _unknown(self, key: Any, path: Path, report: Report) -> None:
        guess = closest(str(key), self._names)
        if guess:
            report.error(path, f"unknown field; did you mean {guess}?")
        else:
            report.error(path, f"unknown field; the fields here are: {', '.join(sorted(self._names))}")

    def walk(self, prefix: str) -> Iterator[tuple[str, Node]]:
        for name, node in self.fields.items():
            own = f"{prefix}.{name}"
            yield own, node
            yield from node.walk(own)


def record(
    fields: Mapping[str, Node],
    required: tuple[str, ...] = (),
    one_of: tuple[tuple[str, ...], ...] = (),
    rules: tuple[Rule, ...] = (),
) -> Record:
    return Record(fields, required, one_of, rules)


def extend(base: Record, fields: Mapping[str, Node], rules: tuple[Rule, ...] = ()) -> Record:
    """`base` with more fields (and rules)."""
    return Record({**base.fields, **fields}, base.required, base.one_of, base.rules + rules)


def as_integer(value: Any) -> int | None:
    """`value` as an integer when it is one (an integral float counts), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def closest(name: str, candidates: tuple[str, ...] | list[str]) -> str | None:
    """The candidate `name` most likely meant: the same ignoring case and `_`, or a close typo."""
    normalized = name.replace("_", "").replace("-", "").lower()
    for candidate in candidates:
        if candidate.replace("_", "").replace("-", "").lower() == normalized:
            return candidate
    if len(name) > 64:
        return None
    best: tuple[int, str] | None = None
    for candidate in candidates:
        distance = edit_distance(name.lower(), candidate.lower())
        limit = 1 if len(candidate) <= 4 else 2 if len(candidate) <= 10 else 3
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {_number(minimum)} to {_number(maximum)}"
    if minimum is not None:
        return f" of {_number(minimum)} or more"
    if maximum is not None:
        return f" of {_number(maximum)} or less"
    return ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _join(names: tuple[str, ...] | list[str], word: str) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {word} {names[-1]}"
