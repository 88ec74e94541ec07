from __future__ import annotations

import pytest

from mesh_runtime.analysis import AnalysisRequest, Suppression, SuppressionError, analyze
from mesh_runtime.analysis.analyzers import all_analyzers
from mesh_runtime.analysis.runner import select_analyzers
from mesh_runtime.resources import Resource, load_text

# Two gateways whose selectors match no pod: IST0101 for each (gateway.IngressGatewayPortAnalyzer).
GATEWAYS = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: a
  namespace: prod
spec:
  selector:
    app: nothing
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: b
  namespace: test
  annotations:
    galley.istio.io/analyze-suppress: "IST0108,IST0101"
spec:
  selector:
    app: nothing
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: c
  namespace: test
spec:
  selector:
    app: nothing
"""
ANALYZER = ["gateway.IngressGatewayPortAnalyzer"]


def resources() -> list[Resource]:
    return load_text(GATEWAYS, "gw.yaml").resources


def origins(request: AnalysisRequest) -> list[str]:
    return [m.origin or "" for m in analyze(request)]


def test_all_namespaces_and_annotation_suppression() -> None:
    assert origins(AnalysisRequest(resources(), analyzers=ANALYZER, namespace=None)) == [
        "Gateway prod/a",
        "Gateway test/c",
    ]


def test_namespace_filter_keeps_the_selected_namespace_only() -> None:
    assert origins(AnalysisRequest(resources(), analyzers=ANALYZER, namespace="prod")) == ["Gateway prod/a"]
    assert origins(AnalysisRequest(resources(), analyzers=ANALYZER, namespace="default")) == []


@pytest.mark.parametrize(
    ("pattern", "left"),
    [
        ("IST0101=Gateway test/*", ["Gateway prod/a"]),
        ("IST0101=*", []),
        ("IST0101=Gateway prod/a", ["Gateway test/c"]),
        ("IST0101=Gateway a.prod", ["Gateway prod/a", "Gateway test/c"]),
        ("IST0102=*", ["Gateway prod/a", "Gateway test/c"]),
    ],
)
def test_suppressions_glob_over_kind_namespace_name(pattern: str, left: list[str]) -> None:
    request = AnalysisRequest(
        resources(), analyzers=ANALYZER, namespace=None, suppressions=[Suppression.parse(pattern)]
    )
    assert origins(request) == left


@pytest.mark.parametrize("text", ["IST0101", "IST0101=a=b", "=Pod x"])
def test_malformed_suppressions_are_refused(text: str) -> None:
    with pytest.raises(SuppressionError, match="CODE=PATTERN"):
        Suppression.parse(text)


def test_unknown_analyzer_names_select_all_and_names_are_istios() -> None:
    assert select_analyzers(["no.SuchAnalyzer"]) == all_analyzers()
    assert [a.name for a in select_analyzers(ANALYZER)] == ANALYZER
    names = [a.name for a in all_analyzers()]
    assert names == sorted(names)
    assert all("." in name for name in names)


def test_system_namespaces_are_never_analyzed() -> None:
    system = load_text(GATEWAYS.replace("namespace: prod", "namespace: kube-system"), "gw.yaml").resources
    assert origins(AnalysisRequest(system, analyzers=ANALYZER, namespace=None)) == ["Gateway test/c"]
