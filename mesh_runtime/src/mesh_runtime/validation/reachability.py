"""Which VirtualService routes and matches can never apply, as Istio works it out.

Routes are tried in order and the first match wins, so a rule whose matches all appeared in earlier rules is
never used (IST0130 VirtualServiceUnreachableRule), a match that repeats an earlier one is never used (IST0131
VirtualServiceIneffectiveMatch), and only the last rule may have no matches. For HTTP, a URI prefix match is
also shadowed by an earlier prefix match that is a prefix of it with the same (or a covering) port, method,
authority, headers, query parameters and withoutHeaders; a match with no method counts as a GET.

Rules are named as Istio names them in messages: an HTTP rule by its quoted name when it has one, else
`#<index>`; a match likewise by its quoted name (HTTP only), else `#<index>`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..resources.fields import mapping, sequence, text
from .common import integer
from .dsl import Report
from .findings import Path

UNREACHABLE_RULE = "VirtualServiceUnreachableRule"
INEFFECTIVE_MATCH = "VirtualServiceIneffectiveMatch"
ALL_MATCHES_USED = "all matches used by prior rules"
ONLY_LAST_WITHOUT_MATCH = "only the last rule can have no matches"
#: Above this many URI prefix matches in one VirtualService the (quadratic) overlap check is skipped.
MAX_PREFIX_MATCHES = 500

_HTTP_MAP_FIELDS = frozenset({"headers", "queryParams", "sourceLabels", "withoutHeaders"})
_STRING_MATCH_FIELDS = frozenset({"uri", "scheme", "method", "authority"})
_EXACT, _PREFIX = "exact:", "prefix:"


def analyze_routes(spec: Mapping[str, Any], report: Report) -> None:
    """Report unreachable rules and ineffective matches of a VirtualService's http, tcp and tls routes."""
    _analyze(spec, "http", report)
    _analyze(spec, "tcp", report)
    _analyze(spec, "tls", report)


@dataclass(frozen=True, slots=True)
class _PrefixMatch:
    """An HTTP match on a URI prefix, reduced to what decides whether an earlier one shadows it."""

    rule: str
    match: str
    path: Path
    prefix: str
    port: int
    method: str
    authority: str
    headers: Mapping[str, str]
    query_params: Mapping[str, str]
    without_headers: Mapping[str, str]


def _analyze(spec: Mapping[str, Any], section: str, report: Report) -> None:
    routes = sequence(spec.get(section))
    http = section == "http"
    seen: dict[str, int] = {}
    without_match_seen = False
    prefix_matches: list[_PrefixMatch] = []
    for rule_index, route in enumerate(routes):
        if not isinstance(route, Mapping):
            continue
        route_path: Path = ("spec", section, rule_index)
        matches = sequence(route.get("match"))
        if not matches:
            if without_match_seen:
                _unreachable(report, route_path, _rule_name(route, rule_index, http), ONLY_LAST_WITHOUT_MATCH)
            without_match_seen = True
            continue
        duplicates = 0
        for match_index, match in enumerate(matches):
            key = _match_key(match, http)
            earlier = seen.get(key)
            if earlier is not None:
                dup_name = _rule_name(routes[earlier], earlier, http)
                _ineffective(
                    report,
                    (*route_path, "match", match_index),
                    _rule_name(route, rule_index, http),
                    _match_name(match, match_index, http),
                    dup_name,
                )
                duplicates += 1
                continue
            seen[key] = rule_index
            if http:
                prefix_match = _prefix_match(route, rule_index, match, match_index, route_path)
                if prefix_match is not None:
                    prefix_matches.append(prefix_match)
        if duplicates == len(matches):
            _unreachable(report, route_path, _rule_name(route, rule_index, http), ALL_MATCHES_USED)
    if 1 < len(prefix_matches) <= MAX_PREFIX_MATCHES:
        _report_overlaps(prefix_matches, report)


def _report_overlaps(prefix_matches: list[_PrefixMatch], report: Report) -> None:
    for index, earlier in enumerate(prefix_matches):
        for later in prefix_matches[index + 1 :]:
            if later.prefix == earlier.prefix:
                continue  # identical prefixes were compared as whole matches above
            if _covers(earlier, later):
                _ineffective(
                    report,
                    later.path,
                    later.rule,
                    f"{later.match} of prefix {later.prefix}",
                    f"{earlier.match} of prefix {earlier.prefix} on {earlier.rule}",
                )


def _covers(a: _PrefixMatch, b: _PrefixMatch) -> bool:
    """Whether the earlier match `a` takes every request the later match `b` would (Istio's reading)."""
    if not b.prefix.startswith(a.prefix) or a.port != b.port:
        return False
    if a.method != b.method and not a.method.startswith(b.method):
        return False
    if a.authority != b.authority and not a.authority.startswith(b.authority):
        return False
    return all(
        _map_covers(x, y)
        for x, y in (
            (a.headers, b.headers),
            (a.query_params, b.query_params),
            (a.without_headers, b.without_headers),
        )
    )


def _map_covers(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    if len(a) != len(b):
        return False
    for key, value in a.items():
        other = b.get(key)
        if other is None or (value != other and not value.startswith(other)):
            return False
    return True


def _prefix_match(
    route: Mapping[str, Any], rule_index: int, match: Any, match_index: int, route_path: Path
) -> _PrefixMatch | None:
    if not isinstance(match, Mapping) or not isinstance(match.get("uri"), Mapping):
        return None
    prefix = text(match["uri"].get("prefix"))
    if not prefix:
        return None
    return _PrefixMatch(
        rule=_rule_name(route, rule_index, True),
        match=_match_name(match, match_index, True),
        path=(*route_path, "match", match_index),
        prefix=prefix,
        port=integer(match.get("port")),
        method=_exact_or_prefix(match.get("method")) or _EXACT + "GET",
        authority=_exact_or_prefix(match.get("authority")),
        headers=_string_match_map(match.get("headers")),
        query_params=_string_match_map(match.get("queryParams")),
        without_headers=_string_match_map(match.get("withoutHeaders")),
    )


def _exact_or_prefix(value: Any) -> str:
    string_match = mapping(value)
    exact, prefix = text(string_match.get("exact")), text(string_match.get("prefix"))
    if exact:
        return _EXACT + exact
    if prefix:
        return _PREFIX + prefix
    return ""


def _string_match_map(value: Any) -> Mapping[str, str]:
    return {str(key): _exact_or_prefix(item) for key, item in mapping(value).items()}


def _match_key(match: Any, http: bool) -> str:
    """What makes two matches the same match: their content without the name, empty values left out."""
    if not isinstance(match, Mapping):
        return json.dumps(repr(match))
    content = {
        key: value for key, value in match.items() if not (http and key == "name") and isinstance(key, str)
    }
    return json.dumps(_canonical(content, top=True), sort_keys=True, default=repr)


def _canonical(value: Any, top: bool = False, string_match: bool = False) -> Any:
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if item is None:
                continue
            key = str(key)
            if top and key in _STRING_MATCH_FIELDS:
                result[key] = _canonical(item, string_match=True)
            elif top and key in _HTTP_MAP_FIELDS:
                if isinstance(item, Mapping) and not item:
                    continue
                result[key] = {str(k): _canonical(v, string_match=True) for k, v in mapping(item).items()}
            elif string_match or not _is_empty(item):
                result[key] = _canonical(item)
        return result
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _is_empty(value: Any) -> bool:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, (str, list)):
        return not value
    return False


def _rule_name(route: Any, index: int, http: bool) -> str:
    name = mapping(route).get("name") if http else None
    if isinstance(name, str) and name:
        return _go_quote(name)
    return f"#{index}"


def _match_name(match: Any, index: int, http: bool) -> str:
    return _rule_name(match, index, http)


def _go_quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _unreachable(report: Report, path: Path, rule: str, reason: str) -> None:
    report.add(
        "warning",
        path,
        f"rule {rule} is never used ({reason})",
        UNREACHABLE_RULE,
        (rule, reason),
    )


def _ineffective(report: Report, path: Path, rule: str, match: str, duplicate_of: str) -> None:
    report.add(
        "warning",
        path,
        f"rule {rule} match {match} never applies (duplicate/overlapping match in rule {duplicate_of})",
        INEFFECTIVE_MATCH,
        (rule, match, duplicate_of),
    )
