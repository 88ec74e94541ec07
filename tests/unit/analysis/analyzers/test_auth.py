from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mesh_runtime.analysis.analyzers.auth import namespace_matches
from tests.conftest import MeshctlRunner

POLICIES = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio-injection: enabled}
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop-test
---
apiVersion: v1
kind: Pod
metadata:
  name: cart
  namespace: shop
  labels: {app: cart}
spec:
  containers: [{name: cart, image: cart}]
---
apiVersion: v1
kind: Pod
metadata:
  name: legacy
  namespace: shop-test
  labels: {app: legacy}
spec:
  containers: [{name: legacy, image: legacy}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: cart
  namespace: shop
spec:
  selector:
    matchLabels: {app: cart}
  rules:
  - from:
    - source:
        namespaces:
        - "shop*"
        - "*-test"
        - payments
        notNamespaces:
        - Shop
        - staging
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: typo
  namespace: shop
spec:
  selector:
    matchLabels: {app: kart}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: outside-mesh
  namespace: shop-test
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: mesh-wide
  namespace: istio-system
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [TRACE]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: mesh-wide-carts
  namespace: istio-system
spec:
  selector:
    matchLabels: {app: cart}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: mesh-wide-legacy
  namespace: istio-system
spec:
  selector:
    matchLabels: {app: legacy}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: zoned
  labels: {app: web}
  annotations: {ambient.istio.io/redirection: enabled}
spec:
  containers: [{name: web, image: web}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: web
  namespace: zoned
spec:
  selector:
    matchLabels: {app: web}
"""


def test_policies_need_workloads_and_existing_namespaces(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mesh.yaml").write_text(textwrap.dedent(POLICIES))
    result = meshctl(
        "analyze", "--use-kube=false", "-A", "--analyzer", "auth.AuthorizationPoliciesAnalyzer", "mesh.yaml"
    )
    not_found = "Referenced namespace not found:"
    no_workloads = "No matching workloads for this resource with the following labels:"
    assert [line for line in result.lines if line] == [
        # Istio points notNamespaces entries at namespaces[k]: "staging" at namespaces[1] ("*-test").
        f'Error [IST0101] (AuthorizationPolicy shop/cart mesh.yaml:43) {not_found} "staging"',
        f'Error [IST0101] (AuthorizationPolicy shop/cart mesh.yaml:44) {not_found} "payments"',
        f"Warning [IST0127] (AuthorizationPolicy istio-system/mesh-wide-legacy mesh.yaml:83) {no_workloads} "
        "app=legacy",
        f"Warning [IST0127] (AuthorizationPolicy shop-test/outside-mesh mesh.yaml:58) {no_workloads} ",
        f"Warning [IST0127] (AuthorizationPolicy shop/typo mesh.yaml:49) {no_workloads} app=kart",
    ]
    assert result.code == 79


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("*", True),
        ("shop", True),
        ("SHOP", True),
        ("sh*", True),
        ("*op", True),
        ("*x", False),
        ("shops", False),
    ],
)
def test_namespace_patterns(pattern: str, matches: bool) -> None:
    assert namespace_matches("shop", pattern) is matches
