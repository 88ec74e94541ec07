"""validate() on anything: wrong types at every field, odd keys, deep nesting, huge lists. It reports, never
raises, and reports a bounded number of findings."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh_runtime.resources import Resource, load_paths, load_text, parse_resource
from mesh_runtime.validation import Finding, formats, validate
from mesh_runtime.validation.findings import MAX_FINDINGS

from .conftest import ResourceBuilder

FIXTURE = Path(__file__).with_name("valid_resources.yaml")

#: Values that are wrong somewhere in every schema: each is put in place of every field in turn.
ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    1.5,
    float("nan"),
    10**30,
    "",
    "x",
    "*",
    True,
    [],
    {},
    [None],
    {"": None},
    {1: "a"},
    [[[]]],
    "\x00\u202e",
]


@pytest.fixture(scope="module")
def rich_resources() -> list[Resource]:
    loaded = load_paths([str(FIXTURE)])
    assert not loaded.errors
    assert {r.kind.kind for r in loaded.resources} == {
        "VirtualService",
        "DestinationRule",
        "Gateway",
        "ServiceEntry",
        "Sidecar",
        "PeerAuthentication",
        "AuthorizationPolicy",
    }
    return loaded.resources


def test_rich_resources_of_every_kind_validate_clean(rich_resources: list[Resource]) -> None:
    for resource in rich_resources:
        assert validate(resource) == [], resource.friendly_name


def locations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value inside a document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from locations(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from locations(item, (*path, index))


def validate_with(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> list[Finding]:
    """Validate `body` with the value at `path` replaced (in place, then put back)."""
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    original = target[path[-1]]
    target[path[-1]] = value
    try:
        return validate(parse_resource(body))
    finally:
        target[path[-1]] = original


def check_findings(findings: list[Finding]) -> None:
    assert len(findings) <= MAX_FINDINGS + 1
    for finding in findings:
        assert isinstance(finding, Finding)
        assert finding.level in ("error", "warning")
        assert finding.message.startswith(finding.path + ": ") if finding.path else finding.message


def test_any_value_at_any_field_gives_findings_not_exceptions(rich_resources: list[Resource]) -> None:
    mutations = 0
    for resource in rich_resources:
        body = copy.deepcopy(dict(resource.body))
        for path in list(locations(body["spec"], ("spec",))):
            for value in ODD_VALUES:
                check_findings(validate_with(body, path, value))
                mutations += 1
        assert body == resource.body
    assert mutations > 5000


@pytest.mark.parametrize(
    "spec", [None, "text", 42, 1.5, True, [], [{"hosts": ["a"]}], {None: 1}, {1: {2: 3}}]
)
def test_spec_of_any_type(make: ResourceBuilder, spec: Any) -> None:
    for kind in ("VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar"):
        check_findings(validate(make(kind, {"spec": spec}["spec"])))


def test_wrong_top_level_type_is_one_finding(make: ResourceBuilder) -> None:
    findings = validate(make("Sidecar", ["egress"]))
    assert [f.message for f in findings] == ["spec: must be a mapping of fields, found a list"]


def test_deep_nesting_is_reported_at_the_first_wrong_level(make: ResourceBuilder) -> None:
    deep: Any = "bottom"
    for _ in range(100_000):
        deep = [deep]
    spec = {"hosts": ["r"], "http": [{"route": [{"destination": {"host": "r"}, "headers": deep}]}]}
    findings = validate(make("VirtualService", spec))
    assert [f.message for f in findings] == [
        "spec.http[0].route[0].headers: must be a mapping of fields, found a list"
    ]


def test_deeply_nested_mappings_in_unknown_fields_are_not_walked(make: ResourceBuilder) -> None:
    deep: Any = {}
    for _ in range(100_000):
        deep = {"a": deep}
    findings = validate(make("PeerAuthentication", {"mtls": {"mode": "STRICT", "extra": deep}}))
    assert [f.path for f in findings] == ["spec.mtls.extra"]


def test_huge_lists_give_a_bounded_number_of_findings(make: ResourceBuilder) -> None:
    spec = {"hosts": ["bad host"] * 50_000, "http": [{"route": [{"destination": {"host": "r"}}]}]}
    findings = validate(make("VirtualService", spec))
    assert len(findings) == MAX_FINDINGS + 1
    assert findings[-1] == Finding(
        "error", "", f"validation stopped after {MAX_FINDINGS} findings; fix them and validate again"
    )
    assert findings[0].path == "spec.hosts[0]"


def test_huge_valid_lists_are_checked_without_quadratic_blowup(make: ResourceBuilder) -> None:
    hosts = [f"h{i}.example.com" for i in range(20_000)]
    spec = {"hosts": [*hosts, "h5.example.com"], "http": [{"route": [{"destination": {"host": "r"}}]}]}
    findings = validate(make("VirtualService", spec))
    assert [f.message for f in findings] == ['spec.hosts[20000]: duplicate host "h5.example.com" (hosts[5])']


def test_many_routes_and_matches_are_analyzed(make: ResourceBuilder) -> None:
    routes = [
        {"match": [{"uri": {"prefix": f"/p{i}"}}], "route": [{"destination": {"host": "r"}}]}
        for i in range(2_000)
    ]
    findings = validate(make("VirtualService", {"hosts": ["r"], "http": routes}))
    # /p1 shadows /p10../p19, /p100.. and so on, but above 500 prefix matches the overlap check is skipped
    assert findings == []


def test_huge_strings_are_rejected_quickly(make: ResourceBuilder) -> None:
    host = "a" * 5_000_000
    regex = "(a" * 600 + ")" * 600
    spec = {
        "hosts": [host],
        "http": [{"match": [{"uri": {"regex": regex}}], "route": [{"destination": {"host": "r"}}]}],
    }
    messages = [f.message for f in validate(make("VirtualService", spec))]
    assert messages == [
        "spec.http[0].match[0].uri.regex: regular expression is too long: at most 1024 characters, found "
        "1800",
        "spec.hosts[0]: host name " + '"' + "a" * 77 + '..." is too long: at most 255 characters',
    ]


def test_keys_that_are_not_strings(make: ResourceBuilder) -> None:
    spec = {
        "hosts": ["r"],
        1: "x",
        "http": [
            {
                "match": [{"headers": {None: {"exact": "a"}}, "sourceLabels": {2: "b"}}],
                "route": [{"destination": {"host": "r"}}],
            }
        ],
    }
    messages = sorted(f.message for f in validate(make("VirtualService", spec)))
    assert messages == [
        "spec.1: unknown field; the fields here are: exportTo, gateways, hosts, http, tcp, tls",
        "spec.http[0].match[0].headers.None: key must be a string, found null; quote it",
        "spec.http[0].match[0].sourceLabels.2: key must be a string, found 2; quote it",
    ]


def test_values_of_unusual_yaml_types() -> None:
    text = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: odd}
spec:
  hosts: !!set {a.com, b.com}
  gateways: [!!binary aGVsbG8=]
  http: !!omap [{a: 1}]
"""
    (resource,) = load_paths_text(text)
    assert [f.message for f in validate(resource)] == [
        "spec.hosts: must be a list, found a set",
        "spec.gateways[0]: must be a string, found binary data",
        "spec.http[0]: must be a mapping of fields, found a list",
        "spec.gateways: a VirtualService without hosts is a delegate, and a delegate cannot have gateways; "
        "add hosts or remove it",
    ]


def load_paths_text(text: str) -> list[Resource]:
    loaded = load_text(text, "odd.yaml")
    assert not loaded.errors
    return loaded.resources


def test_a_bug_in_a_check_becomes_a_finding(make: ResourceBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(value: str) -> str | None:
        raise ValueError("boom")

    monkeypatch.setattr(formats, "wildcard_host", broken)
    findings = validate(
        make("VirtualService", "hosts: [reviews]\nhttp: [{route: [{destination: {host: r}}]}]")
    )
    assert findings == [
        Finding("error", "", "internal error while validating (ValueError: boom); please report it")
    ]
