from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import MeshctlRunner

ANNOTATED = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations:
    networking.istio.io/exportTo: "."
    networking.istio.io/exportFrom: "*"
    example.com/owner: team-a
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations:
    sidecar.istio.io/proxyCPU: 100m
    galley.istio.io/analyze-suppress: IST0102
    topology.istio.io/controlPlaneClusters: "*"
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  annotations:
    sidecar.istio.io/inject: "true"
    sidecar.istio.io/interceptionMode: REDIRECTED
    traffic.sidecar.istio.io/excludeOutboundIPRanges: 10.0.0.0/8,10.1.0.0
    sidecar.istio.io/proxyMemory: 1Gi
    sidecar.istio.io/status: "{}"
    istio.io/rev: canary
spec:
  containers: [{name: web, image: web}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-2
  namespace: shop
  labels:
    sidecar.istio.io/inject: "true"
  annotations:
    sidecar.istio.io/inject: "true"
spec:
  containers: [{name: web, image: web}]
"""


def analyze(meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path("mesh.yaml").write_text(textwrap.dedent(text))
    result = meshctl(
        "analyze", "--use-kube=false", "-A", "--analyzer", "annotations.K8sAnalyzer", "mesh.yaml"
    )
    return [line for line in result.lines if line]


def test_unknown_misplaced_deprecated_and_invalid_annotations(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert analyze(meshctl, tmp_path, monkeypatch, ANNOTATED) == [
        "Warning [IST0107] (Namespace shop mesh.yaml:16) Misplaced annotation: sidecar.istio.io/proxyCPU "
        "can only be applied to Pod",
        "Warning [IST0108] (Service shop/web mesh.yaml:8) Unknown annotation: networking.istio.io/exportFrom",
        "Warning [IST0125] (Pod shop/web-1 mesh.yaml:27) Invalid annotation "
        "sidecar.istio.io/interceptionMode: interceptionMode invalid, use REDIRECT,TPROXY,NONE: REDIRECTED",
        "Warning [IST0125] (Pod shop/web-1 mesh.yaml:28) Invalid annotation "
        "traffic.sidecar.istio.io/excludeOutboundIPRanges: excludeIPRanges invalid: failed parsing cidr "
        "'10.1.0.0': netip.ParsePrefix(\"10.1.0.0\"): no '/'",
        # The label of the same name is the replacement: web-2 has both, so only web-1 is told.
        'Info [IST0135] (Pod shop/web-1 mesh.yaml:26) Annotation "sidecar.istio.io/inject" has been '
        'deprecated in favor of the "sidecar.istio.io/inject" label and may not work in future Istio '
        "versions.",
    ]
