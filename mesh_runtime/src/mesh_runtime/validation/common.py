"""Schema pieces several kinds share (string matches, destinations, selectors, header operations, exportTo),
and helpers for reading fields of a document that may hold anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..resources.fields import indexed_strings, mapping
from . import formats
from .dsl import (
    INT32_MAX,
    INT32_MIN,
    UINT32_MAX,
    Boolean,
    Integer,
    ListOf,
    MapOf,
    Number,
    Record,
    Report,
    Text,
    as_integer,
    record,
)
from .findings import Path, quoted
from .formats import TextCheck

# ---- reading (plain accessors: resources.fields) ---------------------------------------------


def integer(value: Any) -> int:
    """An integer field's value; 0 when absent or not an integer (the schema reported its type)."""
    number = as_integer(value)
    return number if number is not None else 0


def is_set(container: Mapping[str, Any], name: str) -> bool:
    return container.get(name) is not None


def check_each(report: Report, path: Path, values: Any, check: TextCheck, warn: bool = False) -> None:
    """Run a format check on every string of a list, reporting at each item."""
    for index, item in indexed_strings(values):
        if report.full:
            return
        problem = check(item)
        if problem:
            report.add("warning" if warn else "error", (*path, index), problem)


# ---- scalars -------------------------------------------------------------------------------------


def text_field(*checks: TextCheck, max_length: int | None = None, min_length: int = 0) -> Text:
    return Text(checks, min_length, max_length)


STRING = Text()
BOOLEAN = Boolean()
NUMBER = Number()
INT32 = Integer(INT32_MIN, INT32_MAX)
UINT32 = Integer(0, UINT32_MAX)
UINT64 = Integer(0, 2**64 - 1)
PORT = Integer(1, formats.MAX_PORT, "a port number")
DURATION = Text((formats.duration(),))
#: Durations where 0 is meaningful (no minimum) but the format still must be right.
ANY_DURATION = Text((formats.duration(minimum_ms=0, precision_ns=1),))
STRINGS = ListOf(STRING)
STRING_MAP = MapOf(STRING)


def subset_name(value: str) -> str | None:
    if value == "":
        return "must be a subset name, found an empty string"
    problem = formats.dns1123_label(value)
    return f"subset name {problem}" if problem else None


def destination_host(value: str) -> str | None:
    if value == "*":
        return 'must be a host name; "*" is not allowed as a destination host'
    return formats.wildcard_host(value)


# ---- matches -------------------------------------------------------------------------------------


def _string_match_rules(empty_prefix_ok: bool, star_regex_ok: bool) -> Record:
    def check(match: Mapping[str, Any], path: Path, report: Report) -> None:
        prefix = match.get("prefix")
        if prefix == "" and not empty_prefix_ok:
            report.error((*path, "prefix"), "must not be empty (leave the match out to match anything)")
        regex = match.get("regex")
        if isinstance(regex, str) and not (star_regex_ok and regex == "*"):
            problem = formats.regex(regex)
            if problem:
                report.error((*path, "regex"), problem)

    return record(
        {"exact": STRING, "prefix": STRING, "regex": STRING},
        one_of=(("exact", "prefix", "regex"),),
        rules=(check,),
    )


#: StringMatch where an empty prefix means "anything" (the URI).
URI_MATCH = _string_match_rules(empty_prefix_ok=True, star_regex_ok=False)
#: StringMatch of headers, scheme, method, authority and query parameters.
STRING_MATCH = _string_match_rules(empty_prefix_ok=False, star_regex_ok=False)
#: StringMatch of withoutHeaders, where regex `*` means "present".
WITHOUT_HEADER_MATCH = _string_match_rules(empty_prefix_ok=False, star_regex_ok=True)


def _port_selector() -> Record:
    return record({"number": PORT}, required=("number",))


PORT_SELECTOR = _port_selector()

DESTINATION = record(
    {
        "host": Text((destination_host,)),
        "port": PORT_SELECTOR,
        "subset": Text((subset_name,)),
    },
    required=("host",),
)


def _percentage(value: Mapping[str, Any], path: Path, report: Report) -> None:
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return
    if number < 0 or number > 100 or 0 < number < 0.0001:
        report.error((*path, "value"), f"must be 0 or a percentage from 0.0001 to 100, found {number!r}")


PERCENT = record({"value": NUMBER}, rules=(_percentage,))


# ---- headers -------------------------------------------------------------------------------------


def _is_authority(name: str) -> bool:
    return name.lower() in (":authority", "host")


def _request_name(name: str) -> str | None:
    """A header a request may add or set: not an internal (`:`) header, except the authority."""
    if name == "":
        return "header name must not be empty"
    if (name.startswith(":") or name.lower() == "host") and not _is_authority(name):
        return f'header {quoted(name)} cannot be changed: names starting with ":" are internal to the proxy'
    return None


def _operation_name(name: str) -> str | None:
    """A header a request may remove, or a response may change: not Host, not an internal header."""
    if name == "":
        return "header name must not be empty"
    if name.lower() == "host":
        return f"header {quoted(name)} cannot be changed here: the Host header cannot be set or removed"
    if name.startswith(":"):
        return f'header {quoted(name)} cannot be changed: names starting with ":" are internal to the proxy'
    return None


def _header_operations(name_check: TextCheck, remove_check: TextCheck) -> Record:
    def check(ops: Mapping[str, Any], path: Path, report: Report) -> None:
        for section in ("add", "set"):
            for key, value in mapping(ops.get(section)).items():
                if not isinstance(key, str):
                    continue
                where = (*path, section, key)
                problem = name_check(key)
                if problem:
                    report.error(where, problem)
                if isinstance(value, str):
                    problem = formats.header_value(value)
                    if problem:
                        report.error(where, problem)
        check_each(report, (*path, "remove"), ops.get("remove"), remove_check)

    return record({"add": STRING_MAP, "remove": STRINGS, "set": STRING_MAP}, rules=(check,))


REQUEST_HEADER_OPERATIONS = _header_operations(_request_name, _operation_name)
RESPONSE_HEADER_OPERATIONS = _header_operations(_operation_name, _operation_name)
HEADERS = record({"request": REQUEST_HEADER_OPERATIONS, "response": RESPONSE_HEADER_OPERATIONS})


# ---- selectors -----------------------------------------------------------------------------------


def _no_wildcard(what: str) -> TextCheck:
    def check(value: str) -> str | None:
        if "*" in value:
            return f"wildcard (*) is not allowed in a selector {what}, found {quoted(value)}"
        return None

    return check


def _non_empty_key(value: str) -> str | None:
    return "selector label key must not be empty" if value == "" else None


def _selector_without_labels(what: str, labels_field: str) -> Any:
    def check(selector: Mapping[str, Any], path: Path, report: Report) -> None:
        labels = selector.get(labels_field)
        if labels is None or (isinstance(labels, Mapping) and not labels):
            report.warning(
                path,
                f"the selector has no labels, so it selects every workload in the namespace; "
                f"add {labels_field} or remove the selector{what}",
            )

    return check


_SELECTOR_VALUE = Text((_no_wildcard("value"),), max_length=63)

#: security.istio.io's selector (`matchLabels`).
WORKLOAD_SELECTOR = record(
    {
        "matchLabels": MapOf(
            _SELECTOR_VALUE, key_checks=(_non_empty_key, _no_wildcard("key")), max_properties=4096
        )
    },
    rules=(_selector_without_labels("", "matchLabels"),),
)


def networking_selector(what: str) -> Record:
    """networking.istio.io's WorkloadSelector (`labels`), as Sidecar and ServiceEntry use it."""
    return record(
        {
            "labels": MapOf(
                _SELECTOR_VALUE, key_checks=(_non_empty_key, _no_wildcard("key")), max_properties=256
            )
        },
        rules=(_selector_without_labels(what, "labels"),),
    )


def check_labels(report: Report, path: Path, labels: Any) -> None:
    """Kubernetes label syntax for every key and value of a label mapping."""
    for key, value in mapping(labels).items():
        if report.full:
            return
        if not isinstance(key, str):
            continue
        problem = formats.label_key(key)
        if problem:
            report.error((*path, key), problem)
        if isinstance(value, str):
            problem = formats.label_value(value)
            if problem:
                report.error((*path, key), problem)


# ---- exportTo ------------------------------------------------------------------------------------

PRIVATE, PUBLIC, NONE = ".", "*", "~"


def check_export_to(
    report: Report, path: Path, export_to: Any, service_entry: bool = False, has_selector: bool = False
) -> None:
    """`exportTo`: `.`, `*`, namespace names (and `~` for ServiceEntry); no duplicates; `*` alone."""
    entries = list(indexed_strings(export_to))
    if not entries:
        return
    seen: set[str] = set()
    for index, entry in entries:
        key = report.namespace if entry == PRIVATE and report.namespace else entry
        if key in seen:
            if key != entry:
                report.error((*path, index), f'"." and the namespace {report.namespace} are the same entry')
            else:
                report.error((*path, index), f"duplicate entry {quoted(entry)}")
            continue
        if entry == NONE and not service_entry:
            report.error((*path, index), '"~" (export to no namespace) is only allowed for ServiceEntry')
            continue
        if entry not in (PRIVATE, PUBLIC, NONE) and not formats.is_dns1123_label(entry):
            report.error((*path, index), f'must be ".", "*" or a namespace name, found {quoted(entry)}')
            continue
        seen.add(key)
    if has_selector and seen:
        own = report.namespace or PRIVATE
        if own not in seen and PRIVATE not in seen:
            report.error(
                path, "a DestinationRule with a workloadSelector can only be exported to its own namespace"
            )
        elif len(seen) > 1:
            report.error(path, "a DestinationRule with a workloadSelector can have only one exportTo entry")
    if PUBLIC in seen and len(entries) > 1:
        report.error(path, '"*" exports to every namespace; it cannot be combined with other entries')
    if NONE in seen and len(entries) > 1:
        report.error(path, '"~" exports to no namespace; it cannot be combined with other entries')
