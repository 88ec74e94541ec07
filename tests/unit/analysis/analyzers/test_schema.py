"""schema.ValidationAnalyzer.<Kind>: findings as IST0106/IST0133, route reachability as IST0130/0131."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesh_runtime.analysis import AnalysisRequest, analyze
from mesh_runtime.analysis.analyzers import all_analyzers
from mesh_runtime.analysis.messages import Message
from mesh_runtime.resources import load_text
from mesh_runtime.resources.kinds import MODELLED_KINDS

ALL_SCHEMA = [f"schema.ValidationAnalyzer.{kind.kind}" for kind in MODELLED_KINDS]

BAD_VIRTUAL_SERVICE = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts:
  - reviews
  http:
  - timeout: 1x
    route:
    - destination:
        host: reviews
      weight: -5
    - destination:
        subset: v2
  - match:
    - uri: {prefix: /mirrored}
    mirrorPercent: 50
    mirror:
      host: reviews
    route:
    - destination:
        host: reviews
"""


def run(text: str, analyzers: list[str] | None = None) -> list[Message]:
    loaded = load_text(text, "input.yaml")
    assert not loaded.errors
    return analyze(AnalysisRequest(loaded.resources, analyzers=analyzers or ALL_SCHEMA, namespace=None))


def rendered(messages: list[Message]) -> list[str]:
    return [message.render() for message in messages]


def test_one_analyzer_per_modelled_kind_named_and_described_as_istio_does() -> None:
    registered = {a.name: a for a in all_analyzers() if a.name.startswith("schema.")}
    assert sorted(registered) == sorted(ALL_SCHEMA)
    for kind in MODELLED_KINDS:
        found = registered[f"schema.ValidationAnalyzer.{kind.kind}"]
        assert found.description == f"Runs schema validation as an analyzer on '{kind.kind}' resources"
        assert found.inputs == (kind,)


def test_errors_and_warnings_point_at_the_line_of_their_field() -> None:
    assert rendered(run(BAD_VIRTUAL_SERVICE)) == [
        "Error [IST0106] (VirtualService shop/reviews input.yaml:10) Schema validation error: "
        'spec.http[0].timeout: must be a duration such as 500ms, 10s, 1m or 1h30m, found "1x"',
        "Error [IST0106] (VirtualService shop/reviews input.yaml:14) Schema validation error: "
        "spec.http[0].route[0].weight: must be 0 or more, found -5",
        # a missing field: the line of the first field of the object it is missing from
        "Error [IST0106] (VirtualService shop/reviews input.yaml:16) Schema validation error: "
        "spec.http[0].route[1].destination.host: required field is not set",
        "Warning [IST0133] (VirtualService shop/reviews input.yaml:19) Schema validation warning: "
        "spec.http[1].mirrorPercent: mirrorPercent is deprecated; use mirrorPercentage",
    ]


def test_each_kind_is_validated_by_its_own_analyzer() -> None:
    text = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec: {selector: {istio: ingressgateway}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: pa, namespace: shop}
spec: {mtls: {mode: STRICTER}}
"""
    assert [m.origin for m in run(text, ["schema.ValidationAnalyzer.Gateway"])] == ["Gateway shop/gw"]
    assert [m.origin for m in run(text, ["schema.ValidationAnalyzer.PeerAuthentication"])] == [
        "PeerAuthentication shop/pa"
    ]
    assert [m.text for m in run(text)] == [
        "Schema validation error: spec.servers: a Gateway needs at least one server",
        "Schema validation error: spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, found "
        '"STRICTER"; '
        "did you mean STRICT?",
    ]


def test_kinds_not_modelled_are_not_analyzed() -> None:
    text = """\
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {ports: "not even a list", bogus: true}
"""
    assert run(text) == []


REACHABILITY = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shadowed, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: api
    match:
    - uri: {prefix: /api}
    route: [{destination: {host: reviews}}]
  - name: api-v1
    match:
    - name: v1
      uri: {prefix: /api/v1}
    - uri: {prefix: /api}
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
  tcp:
  - match: [{port: 3306}]
    route: [{destination: {host: db}}]
  - match: [{port: 3306}]
    route: [{destination: {host: db}}]
"""


def test_unreachable_rules_and_ineffective_matches_use_istios_messages() -> None:
    assert [(m.code, m.reference, m.text) for m in run(REACHABILITY)] == [
        (
            "IST0130",
            "input.yaml:18",
            "VirtualService rule #3 not used (only the last rule can have no matches).",
        ),
        ("IST0130", "input.yaml:22", "VirtualService rule #1 not used (all matches used by prior rules)."),
        (
            "IST0131",
            "input.yaml:13",
            'VirtualService rule "api-v1" match "v1" of prefix /api/v1 is not used (duplicate/overlapping '
            "match "
            'in rule #0 of prefix /api on "api").',
        ),
        (
            "IST0131",
            "input.yaml:15",
            'VirtualService rule "api-v1" match #1 is not used (duplicate/overlapping match in rule "api").',
        ),
        (
            "IST0131",
            "input.yaml:22",
            "VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).",
        ),
    ]


@pytest.fixture(scope="module")
def conformance_data(shared: Path) -> Path:
    return shared / "conformance" / "istio-analyzers" / "testdata"


def test_meshctl_reports_istios_dupmatches_case(meshctl_process, conformance_data: Path) -> None:  # type: ignore[no-untyped-def]
    """Istio's own test files, through the meshctl users run, as JSON."""
    result = meshctl_process(
        "analyze",
        "--use-kube=false",
        "--all-namespaces",
        "--analyzer",
        "schema.ValidationAnalyzer.VirtualService",
        "-o",
        "json",
        str(conformance_data / "virtualservice_dupmatches.yaml"),
        str(conformance_data / "virtualservice_overlappingmatches.yaml"),
    )
    messages = json.loads(result.stdout)
    # files without a namespace: istioctl shows them in "default"
    found = sorted((m["code"], m["origin"].replace(" default/", " "), m["message"]) for m in messages)
    assert found == sorted(
        [
            (
                "IST0130",
                "VirtualService duplicate-match",
                'VirtualService rule "send /api/v1/products to sample.bar" not used (all matches used by '
                "prior rules).",
            ),
            (
                "IST0130",
                "VirtualService foo/sample-foo-cluster01",
                "VirtualService rule #1 not used (only the last rule can have no matches).",
            ),
            (
                "IST0131",
                "VirtualService almost-duplicate-match",
                'VirtualService rule "send /api/v1/products and /potato to sample.bar" match "prefix '
                '/api/v1/products" '
                "is not used (duplicate/overlapping match in rule #0).",
            ),
            (
                "IST0131",
                "VirtualService duplicate-match",
                'VirtualService rule "send /api/v1/products to sample.bar" match #0 is not used '
                "(duplicate/overlapping "
                'match in rule "send /api/v1/products to sample.foo").',
            ),
            (
                "IST0130",
                "VirtualService duplicate-tcp-match",
                "VirtualService rule #1 not used (all matches used by prior rules).",
            ),
            (
                "IST0130",
                "VirtualService duplicate-empty-tcp",
                "VirtualService rule #1 not used (only the last rule can have no matches).",
            ),
            (
                "IST0131",
                "VirtualService almost-duplicate-tcp-match",
                "VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).",
            ),
            (
                "IST0131",
                "VirtualService duplicate-tcp-match",
                "VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).",
            ),
            (
                "IST0130",
                "VirtualService none/tls-routing",
                "VirtualService rule #1 not used (all matches used by prior rules).",
            ),
            (
                "IST0131",
                "VirtualService none/tls-routing-almostmatch",
                "VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).",
            ),
            (
                "IST0131",
                "VirtualService none/tls-routing",
                "VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).",
            ),
            (
                "IST0131",
                "VirtualService non-method-get",
                'VirtualService rule "send product to sample.foo" match #1 of prefix /api/v1/products is '
                "not used "
                '(duplicate/overlapping match in rule #0 of prefix /api/v1/product on "send product to '
                'sample.foo").',
            ),
            (
                "IST0131",
                "VirtualService overlapping-in-single-match",
                'VirtualService rule "send product to sample.foo" match #1 of prefix /api/v1/products is '
                "not used "
                '(duplicate/overlapping match in rule #0 of prefix /api/v1/product on "send product to '
                'sample.foo").',
            ),
            (
                "IST0131",
                "VirtualService overlapping-in-two-matches",
                'VirtualService rule "send products to sample.bar" match #0 of prefix /api/v1/products is '
                "not used "
                '(duplicate/overlapping match in rule #0 of prefix /api/v1/product on "send product to '
                'sample.foo").',
            ),
            (
                "IST0131",
                "VirtualService overlapping-mathes-with-different-methods",
                'VirtualService rule "send products to sample.bar" match #0 of prefix /api/v1/product is '
                "not used "
                '(duplicate/overlapping match in rule #0 of prefix /api/v1/prod on "send product to '
                'sample.foo").',
            ),
        ]
    )
