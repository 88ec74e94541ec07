"""Route reachability: which VirtualService rules and matches can never apply (Istio's IST0130/IST0131)."""

from __future__ import annotations

from typing import Any

import pytest

from mesh_runtime.validation import Finding

from .conftest import FindingsOf

ROUTE = [{"destination": {"host": "r"}}]


def http(*matches: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A VirtualService spec with one HTTP rule per argument (its matches, or None for no match)."""
    rules = [{"route": ROUTE} if m is None else {"match": m, "route": ROUTE} for m in matches]
    return {"hosts": ["r"], "http": rules}


def notices(found: list[Finding]) -> list[tuple[str | None, str, tuple[str, ...]]]:
    return [(f.message_type, f.path, f.args) for f in found]


def test_a_rule_after_a_rule_without_matches_is_unreachable(findings_of: FindingsOf) -> None:
    found = findings_of("VirtualService", http(None, None, [{"uri": {"exact": "/a"}}]))
    assert notices(found) == [
        ("VirtualServiceUnreachableRule", "spec.http[1]", ("#1", "only the last rule can have no matches"))
    ]
    assert found[0].level == "warning"


def test_a_repeated_match_is_ineffective_and_names_are_ignored_when_comparing(
    findings_of: FindingsOf,
) -> None:
    first = [{"name": "a", "uri": {"exact": "/a"}, "port": 80}]
    second = [{"uri": {"exact": "/a"}, "port": 80.0, "ignoreUriCase": False}, {"uri": {"exact": "/b"}}]
    assert notices(findings_of("VirtualService", http(first, second))) == [
        (
            "VirtualServiceIneffectiveMatch",
            "spec.http[1].match[0]",
            ("#1", "#0", "#0"),
        )
    ]


def test_matches_that_differ_are_not_duplicates(findings_of: FindingsOf) -> None:
    spec = http(
        [{"uri": {"exact": "/a"}}],
        [{"uri": {"exact": "/a"}, "ignoreUriCase": True}],
        [{"uri": {"exact": "/a"}, "headers": {"x": {"exact": "1"}}}],
        [{"uri": {"prefix": "/a"}}],
    )
    assert findings_of("VirtualService", spec) == []


@pytest.mark.parametrize(
    ("earlier", "later", "shadowed"),
    [
        ({"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/api/v1"}}, True),
        ({"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/apx"}}, False),
        # a match without a method counts as a GET
        ({"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/api/v1"}, "method": {"exact": "GET"}}, True),
        ({"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/api/v1"}, "method": {"exact": "POST"}}, False),
        ({"uri": {"prefix": "/api"}, "port": 80}, {"uri": {"prefix": "/api/v1"}, "port": 81}, False),
        (
            {"uri": {"prefix": "/api"}, "headers": {"x": {"exact": "1"}}},
            {"uri": {"prefix": "/api/v1"}, "headers": {"x": {"exact": "1"}}},
            True,
        ),
        (
            {"uri": {"prefix": "/api"}, "headers": {"x": {"exact": "1"}}},
            {"uri": {"prefix": "/api/v1"}},
            False,
        ),
        ({"uri": {"regex": "/api.*"}}, {"uri": {"prefix": "/api/v1"}}, False),
        ({"uri": {"exact": "/api"}}, {"uri": {"prefix": "/api/v1"}}, False),
    ],
)
def test_an_earlier_prefix_match_shadows_a_longer_one(
    findings_of: FindingsOf, earlier: dict[str, Any], later: dict[str, Any], shadowed: bool
) -> None:
    found = notices(findings_of("VirtualService", http([earlier], [later])))
    if not shadowed:
        assert found == []
        return
    prefix, longer = earlier["uri"]["prefix"], later["uri"]["prefix"]
    # shadowing by a shorter prefix makes the match ineffective, but not the rule unreachable (as in Istio)
    assert found == [
        (
            "VirtualServiceIneffectiveMatch",
            "spec.http[1].match[0]",
            ("#1", f"#0 of prefix {longer}", f"#0 of prefix {prefix} on #0"),
        )
    ]


def test_tcp_and_tls_rules(findings_of: FindingsOf) -> None:
    tls_match = [{"sniHosts": ["a.com"], "port": 443}]
    spec = {
        "hosts": ["a.com"],
        "tcp": [{"match": [{"port": 1}], "route": ROUTE}, {"match": [{"port": 1}], "route": ROUTE}],
        "tls": [
            {"match": tls_match, "route": ROUTE},
            {"match": tls_match + [{"sniHosts": ["a.com"]}], "route": ROUTE},
        ],
    }
    assert notices(findings_of("VirtualService", spec)) == [
        ("VirtualServiceIneffectiveMatch", "spec.tcp[1].match[0]", ("#1", "#0", "#0")),
        ("VirtualServiceUnreachableRule", "spec.tcp[1]", ("#1", "all matches used by prior rules")),
        ("VirtualServiceIneffectiveMatch", "spec.tls[1].match[0]", ("#1", "#0", "#0")),
    ]


def test_rule_and_match_names_are_quoted_as_go_quotes_them(findings_of: FindingsOf) -> None:
    spec = {
        "hosts": ["r"],
        "http": [
            {"name": 'say "hi"', "match": [{"uri": {"exact": "/"}}], "route": ROUTE},
            {"name": "ünïcode", "match": [{"name": "m", "uri": {"exact": "/"}}], "route": ROUTE},
        ],
    }
    assert notices(findings_of("VirtualService", spec))[0][2] == ('"ünïcode"', '"m"', '"say \\"hi\\""')
