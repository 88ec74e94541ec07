from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import MeshctlRunner

UIDS = """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-level
  namespace: shop
spec:
  securityContext: {runAsUser: 1337}
  containers: [{name: app, image: app}]
---
apiVersion: v1
kind: Pod
metadata:
  name: proxy-only
  namespace: shop
spec:
  containers:
  - {name: app, image: app, securityContext: {runAsUser: 1000}}
  - {name: istio-proxy, image: proxyv2, securityContext: {runAsUser: 1337}}
---
apiVersion: v1
kind: Pod
metadata:
  name: istiod-1
  namespace: istio-system
  labels: {istio: pilot}
spec:
  securityContext: {runAsUser: 1337}
  containers: [{name: discovery, image: pilot}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: container-level
  namespace: shop
spec:
  template:
    spec:
      containers:
      - {name: app, image: app, securityContext: {runAsUser: 1337}}
"""

SERVICES = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio-injection: enabled}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews
  namespace: shop
spec:
  template:
    metadata:
      labels: {app: reviews}
    spec:
      containers: [{name: reviews, image: reviews}]
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: shop
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080}
---
apiVersion: v1
kind: Service
metadata:
  name: reviews-udp
  namespace: shop
spec:
  selector: {app: reviews}
  ports:
  - {name: udp, port: 9080, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata:
  name: reviews-alt
  namespace: shop
spec:
  selector: {app: reviews}
  ports:
  - {name: http-alt, port: 9090, targetPort: 9080}
---
apiVersion: v1
kind: Service
metadata:
  name: elsewhere
  namespace: other
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 7070, targetPort: 9080}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: outside-mesh
  namespace: shop
spec:
  template:
    metadata:
      labels: {app: reviews}
      annotations: {sidecar.istio.io/inject: "false"}
    spec:
      containers: [{name: reviews, image: reviews}]
"""


def analyze(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, analyzer: str, text: str
) -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path("mesh.yaml").write_text(textwrap.dedent(text))
    result = meshctl("analyze", "--use-kube=false", "-A", "--analyzer", analyzer, "mesh.yaml")
    return [line for line in result.lines if line]


def test_applications_must_not_run_as_the_proxy_uid(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reserved = "User ID (UID) 1337 is reserved for the sidecar proxy."
    assert analyze(meshctl, tmp_path, monkeypatch, "applicationUID.Analyzer", UIDS) == [
        f"Warning [IST0144] (Deployment shop/container-level mesh.yaml:30) {reserved}",
        f"Warning [IST0144] (Pod shop/pod-level mesh.yaml:1) {reserved}",
    ]


def test_services_of_one_deployment_must_agree_on_ports(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert analyze(meshctl, tmp_path, monkeypatch, "deployment.MultiServiceAnalyzer", SERVICES) == [
        "Warning [IST0116] (Deployment shop/reviews mesh.yaml:10) This deployment reviews is associated with "
        "multiple services using port 9080 but different protocols: [shop/reviews shop/reviews-udp]",
        "Warning [IST0137] (Deployment shop/reviews mesh.yaml:10) This deployment reviews is associated with "
        'multiple services [shop/reviews-udp shop/reviews-alt] using targetPort "9080" but different ports: '
        "[9080 9090].",
    ]
