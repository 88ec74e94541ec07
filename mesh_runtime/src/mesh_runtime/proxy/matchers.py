"""Route matches compiled once per config into closures over bytes.

A RouteMatch becomes one function of the request; conditions known at compile time (source labels and
namespace, which describe this proxy) are decided then and cost nothing per request. Paths follow Envoy:
a prefix matches the whole `:path` (query included), exact and regex match the path without its query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import re2

from mesh_runtime import xds


class RequestView(Protocol):
    """What a match may look at; the downstream connection implements it over its parsed request."""

    path: bytes
    method: bytes
    authority: bytes
    scheme: bytes

    @property
    def port(self) -> int: ...

    def path_only(self) -> bytes: ...

    def header(self, name: bytes) -> bytes | None: ...

    def query_param(self, name: str) -> str | None: ...


BytesPredicate = Callable[[bytes], bool]
Match = Callable[[RequestView], bool]


class MatchCompileError(ValueError):
    """A match the proxy cannot build (a regex RE2 rejects); the message names the route."""


def compile_regex(pattern: str, where: str) -> Any:
    """An RE2 regex over bytes; MatchCompileError naming `where` when RE2 rejects it."""
    try:
        return re2.compile(pattern.encode())
    except (re2.error, re.error, TypeError, ValueError) as exc:
        raise MatchCompileError(f"{where}: regex {pattern!r} is not valid RE2: {exc}") from None


def compile_string_match(match: xds.StringMatch, where: str) -> BytesPredicate:
    """A predicate over a value's bytes, for Istio's StringMatch (regex: RE2, whole value)."""
    value = match.value.encode()
    if match.kind == "present":
        return _always
    if match.ignore_case:
        lowered = value.lower()
        if match.kind == "exact":
            return lambda candidate: candidate.lower() == lowered
        if match.kind == "prefix":
            return lambda candidate: candidate.lower().startswith(lowered)
        regex = compile_regex("(?i)" + match.value, where)
        return lambda candidate: regex.fullmatch(candidate) is not None
    if match.kind == "exact":
        return value.__eq__
    if match.kind == "prefix":
        return lambda candidate: candidate.startswith(value)
    regex = compile_regex(match.value, where)
    return lambda candidate: regex.fullmatch(candidate) is not None


def _always(_: bytes) -> bool:
    return True


def compile_route_match(
    match: xds.RouteMatch, where: str, source_labels: dict[str, str], source_namespace: str
) -> Match | None:
    """One HTTPMatchRequest as a function of the request; None when it never matches this proxy."""
    if any(source_labels.get(key) != value for key, value in match.source_labels.items()):
        return None
    if match.source_namespace and match.source_namespace != source_namespace:
        return None
    checks: list[Match] = []
    if match.uri is not None:
        checks.append(_uri_check(match.uri, f"{where}.uri"))
    if match.method is not None:
        method = compile_string_match(match.method, f"{where}.method")
        checks.append(lambda request: method(request.method))
    if match.authority is not None:
        authority = compile_string_match(match.authority, f"{where}.authority")
        checks.append(lambda request: authority(request.authority))
    if match.scheme is not None:
        scheme = compile_string_match(match.scheme, f"{where}.scheme")
        checks.append(lambda request: scheme(request.scheme))
    if match.port is not None:
        port = match.port
        checks.append(lambda request: request.port == port)
    for index, header in enumerate(match.headers):
        checks.append(_header_check(header, f"{where}.headers[{index}]"))
    for index, param in enumerate(match.query_params):
        checks.append(_query_check(param, f"{where}.query_params[{index}]"))
    return _all_of(checks)


def _all_of(checks: list[Match]) -> Match:
    if not checks:
        return _match_all
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda request: first(request) and second(request)
    frozen = tuple(checks)
    return lambda request: all(check(request) for check in frozen)


def _match_all(_: RequestView) -> bool:
    return True


def _uri_check(match: xds.StringMatch, where: str) -> Match:
    if match.kind == "prefix" and not match.ignore_case:
        prefix = match.value.encode()
        return lambda request: request.path.startswith(prefix)  # the common route: one call a request
    predicate = compile_string_match(match, where)
    if match.kind == "prefix" or match.kind == "present":
        return lambda request: predicate(request.path)
    return lambda request: predicate(request.path_only())


def _header_check(header: xds.HeaderMatch, where: str) -> Match:
    name = header.name.lower().encode()
    predicate = compile_string_match(header.match, where)
    if header.invert:

        def without(request: RequestView) -> bool:
            value = request.header(name)
            return value is None or not predicate(value)

        return without

    def with_header(request: RequestView) -> bool:
        value = request.header(name)
        return value is not None and predicate(value)

    return with_header


def _query_check(param: xds.HeaderMatch, where: str) -> Match:
    predicate = compile_string_match(param.match, where)
    name = param.name

    def query(request: RequestView) -> bool:
        value = request.query_param(name)
        matched = value is not None and predicate(value.encode())
        return matched != param.invert

    return query


def any_of(matches: list[Match]) -> Match | None:
    """A route's match list: any block matches. Empty: the route matches every request."""
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0]
    frozen = tuple(matches)
    return lambda request: any(match(request) for match in frozen)
