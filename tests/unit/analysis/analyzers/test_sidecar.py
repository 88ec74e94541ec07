from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import MeshctlRunner

ANALYZER = "sidecar.SelectorAnalyzer"
SIDECARS = """\
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1
  namespace: shop
  labels: {app: reviews, version: v1}
---
apiVersion: v1
kind: Pod
metadata:
  name: ratings
  namespace: shop
  labels: {app: ratings}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: reviews
  namespace: shop
spec:
  workloadSelector:
    labels: {app: reviews}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: reviews-v1
  namespace: shop
spec:
  workloadSelector:
    labels: {version: v1}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: ratings
  namespace: shop
spec:
  workloadSelector:
    labels: {app: ratings}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: typo
  namespace: shop
spec:
  workloadSelector:
    labels:
      version: v1
      app: reviewz
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: shop
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default-2
  namespace: shop
spec:
  egress:
  - hosts: ["./*"]
"""

AMBIENT = """\
apiVersion: v1
kind: Namespace
metadata:
  name: zoned
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: zoned
  labels: {app: web}
  annotations: {ambient.istio.io/redirection: enabled}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: namespace-wide
  namespace: zoned
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: web
  namespace: zoned
spec:
  workloadSelector:
    labels: {app: web}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: web-again
  namespace: zoned
spec:
  workloadSelector:
    labels: {app: web}
"""


def analyze(meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path("mesh.yaml").write_text(textwrap.dedent(text))
    result = meshctl(
        "analyze", "--use-kube=false", "-A", "--analyzer", "sidecar.SelectorAnalyzer", "mesh.yaml"
    )
    return [line for line in result.lines if line]


def test_selectors_must_match_one_pod_and_not_overlap(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conflict = (
        'The Sidecars [reviews reviews-v1] in namespace "shop" select the same workload pod "reviews-v1", '
        "which can lead to undefined behavior."
    )
    no_selector = (
        'The Sidecars [default default-2] in namespace "shop" have no workload selector, '
        "which can lead to undefined behavior."
    )
    assert analyze(meshctl, tmp_path, monkeypatch, SIDECARS) == [
        # The line of the selector's first label in sorted order (app), not of the first one written.
        "Error [IST0101] (Sidecar shop/typo mesh.yaml:51) "
        'Referenced selector not found: "app=reviewz,version=v1"',
        f"Error [IST0110] (Sidecar shop/reviews mesh.yaml:18) {conflict}",
        f"Error [IST0110] (Sidecar shop/reviews-v1 mesh.yaml:27) {conflict}",
        f"Error [IST0111] (Sidecar shop/default mesh.yaml:53) {no_selector}",
        f"Error [IST0111] (Sidecar shop/default-2 mesh.yaml:59) {no_selector}",
    ]


def test_sidecars_have_no_effect_in_ambient_mode(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert analyze(meshctl, tmp_path, monkeypatch, AMBIENT) == [
        "Warning [IST0167] (Sidecar zoned/namespace-wide mesh.yaml:15) The policy has no impact: "
        "namespace is in ambient mode, the policy has no impact.",
        "Warning [IST0167] (Sidecar zoned/web mesh.yaml:21) The policy has no impact: "
        "selected workload is in ambient mode, the policy has no impact.",
        "Warning [IST0167] (Sidecar zoned/web-again mesh.yaml:30) The policy has no impact: "
        "selected workload is in ambient mode, the policy has no impact.",
    ]
