from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import MeshctlRunner

NAMESPACES_AND_PODS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio-injection: enabled
---
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
---
apiVersion: v1
kind: Namespace
metadata:
  name: canary
  labels:
    istio-injection: enabled
    istio.io/rev: canary
---
apiVersion: v1
kind: Namespace
metadata:
  name: mesh-free
  labels:
    istio-injection: disabled
    istio.io/rev: canary
---
apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: zoned
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: v1
kind: Pod
metadata:
  name: cart
  namespace: shop
spec:
  containers:
  - name: cart
    image: cart:1
---
apiVersion: v1
kind: Pod
metadata:
  name: checkout
  namespace: shop
spec:
  containers:
  - name: checkout
    image: checkout:1
  - name: istio-proxy
    image: proxyv2:1.32.0
---
apiVersion: v1
kind: Pod
metadata:
  name: batch
  namespace: shop
  annotations:
    sidecar.istio.io/inject: "False"
spec:
  containers:
  - name: batch
    image: batch:1
---
apiVersion: v1
kind: Pod
metadata:
  name: node-agent
  namespace: shop
spec:
  hostNetwork: true
  containers:
  - name: agent
    image: agent:1
---
apiVersion: v1
kind: Pod
metadata:
  name: old
  namespace: legacy
spec:
  containers:
  - name: old
    image: old:1
"""

NOT_INJECTED = (
    "The namespace is not enabled for Istio injection. Run 'kubectl label namespace legacy "
    "istio-injection=enabled' to enable it, or 'kubectl label namespace legacy istio-injection=disabled' "
    "to explicitly mark it as not needing injection."
)


def injector(values: object, name: str = "istio-sidecar-injector") -> str:
    document = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "istio-system"},
        "data": {"values": json.dumps(values)},
    }
    return "---\n" + json.dumps(document) + "\n"


def analyze(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, analyzer: str, text: str
) -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path("mesh.yaml").write_text(textwrap.dedent(text))
    result = meshctl("analyze", "--use-kube=false", "-A", "--analyzer", analyzer, "mesh.yaml")
    return [line for line in result.lines if line]


def test_namespaces_and_pods(meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert analyze(meshctl, tmp_path, monkeypatch, "injection.Analyzer", NAMESPACES_AND_PODS) == [
        "Warning [IST0103] (Pod shop/cart mesh.yaml:41) The pod shop/cart is missing the Istio proxy. "
        "This can often be resolved by restarting or redeploying the workload.",
        "Warning [IST0123] (Namespace canary mesh.yaml:13) The namespace has more than one type of injection "
        "labels [istio-injection=enabled istio.io/rev=canary], which may lead to undefined behavior. "
        "Make sure only one injection label exists.",
        f"Info [IST0102] (Namespace legacy mesh.yaml:11) {NOT_INJECTED}",
    ]


def test_injector_enabling_namespaces_by_default(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = NAMESPACES_AND_PODS + injector({"sidecarInjectorWebhook": {"enableNamespacesByDefault": True}})
    lines = analyze(meshctl, tmp_path, monkeypatch, "injection.Analyzer", text)
    assert (
        "Info [IST0148] (Namespace legacy mesh.yaml:8) is enabled for Istio injection, as Istio is installed "
        "with enableNamespacesByDefault as true."
    ) in lines
    assert not any("IST0102" in line for line in lines)


@pytest.mark.parametrize(
    "values", [{"sidecarInjectorWebhook": {"enableNamespacesByDefault": False}}, {}, "junk"]
)
def test_injector_without_the_setting_leaves_namespaces_not_injected(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: object
) -> None:
    lines = analyze(
        meshctl, tmp_path, monkeypatch, "injection.Analyzer", NAMESPACES_AND_PODS + injector(values)
    )
    assert f"Info [IST0102] (Namespace legacy mesh.yaml:11) {NOT_INJECTED}" in lines


IMAGES = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio-injection: enabled
---
apiVersion: v1
kind: Pod
metadata:
  name: current
  namespace: shop
spec:
  containers:
  - name: istio-proxy
    image: registry.example/istio/proxyv2:1.32.0
---
apiVersion: v1
kind: Pod
metadata:
  name: distroless
  namespace: shop
  annotations:
    proxy.istio.io/config: "image: {imageType: distroless}"
spec:
  containers:
  - name: istio-proxy
    image: registry.example/istio/proxyv2:1.32.0-distroless
---
apiVersion: v1
kind: Pod
metadata:
  name: stale
  namespace: shop
spec:
  containers:
  - name: istio-proxy
    image: registry.example/istio/proxyv2:1.31.2
---
apiVersion: v1
kind: Pod
metadata:
  name: custom
  namespace: shop
  annotations:
    sidecar.istio.io/proxyImage: my/proxy:dev
spec:
  containers:
  - name: istio-proxy
    image: my/proxy:dev
"""


def test_image_analyzer_groups_stale_proxies_by_namespace(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {"global": {"hub": "registry.example/istio", "tag": "1.32.0", "proxy": {"image": "proxyv2"}}}
    assert analyze(meshctl, tmp_path, monkeypatch, "injection.ImageAnalyzer", IMAGES + injector(values)) == [
        "Warning [IST0158] (Namespace shop mesh.yaml:1) The Istio proxy images of the pods running in the "
        "namespace do not match the image defined in the injection configuration (pod names: [stale]). "
        "This often happens after upgrading the Istio control-plane and can be fixed by redeploying the pods."
    ]
