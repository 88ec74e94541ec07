from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import MeshctlRunner

DEPRECATED_USES = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: shop
spec:
  hosts: [ratings]
  http:
  - fault:
      delay: {percent: 0, fixedDelay: 1s}
    route: [{destination: {host: ratings}}]
  - fault:
      delay: {percent: 20, fixedDelay: 7s}
    route: [{destination: {host: ratings}}]
  - fault:
      delay: {percentage: {value: 20}, fixedDelay: 7s}
    route: [{destination: {host: ratings}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: shop
spec:
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
    egressProxy:
      host: egress.example.com
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: plain
  namespace: other
spec:
  outboundTrafficPolicy: {mode: ALLOW_ANY}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: serviceroles.rbac.istio.io
spec:
  group: rbac.istio.io
  names: {kind: ServiceRole, plural: serviceroles}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: virtualservices.networking.istio.io
spec:
  group: networking.istio.io
  names: {kind: VirtualService, plural: virtualservices}
"""


def test_deprecated_fields_and_removed_types(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mesh.yaml").write_text(textwrap.dedent(DEPRECATED_USES))
    result = meshctl(
        "analyze", "--use-kube=false", "-A", "--analyzer", "deprecation.DeprecationAnalyzer", "mesh.yaml"
    )
    assert [line for line in result.lines if line] == [
        "Warning [IST0002] (CustomResourceDefinition serviceroles.rbac.istio.io mesh.yaml:38) Deprecated: "
        "Custom resource type rbac.istio.io ServiceRole is removed",
        "Warning [IST0002] (Sidecar shop/default mesh.yaml:19) Deprecated: "
        "OutboundTrafficPolicy.EgressProxy ignored",
        "Warning [IST0002] (VirtualService shop/ratings mesh.yaml:1) Deprecated: "
        "HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage",
    ]
