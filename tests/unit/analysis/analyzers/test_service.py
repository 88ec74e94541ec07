from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import MeshctlRunner

SERVICES = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector:
    app: web
  ports:
  - port: 8080
    targetPort: 9080
  - name: admin
    port: 9000
    targetPort: http-admin
  - name: http-api
    port: 80
  - name: GRPC-Web-ui
    port: 81
  - name: custom
    appProtocol: http
    port: 82
  - name: ws
    appProtocol: kubernetes.io/ws
    port: 83
  - name: dns
    port: 53
  - name: stats
    port: 8125
    protocol: UDP
---
apiVersion: v1
kind: Service
metadata:
  name: istiod
  namespace: istio-system
  labels:
    istio: pilot
spec:
  ports:
  - name: unnamed-control-plane
    port: 15010
---
apiVersion: v1
kind: Service
metadata:
  name: reviews-waypoint
  namespace: shop
  labels:
    gateway.istio.io/managed: istio.io-mesh-controller
spec:
  ports:
  - name: mesh
    appProtocol: hbone
    port: 15008
---
apiVersion: v1
kind: Service
metadata:
  name: legacy
  namespace: shop
  labels:
    gateway.istio.io/managed: someone-else
spec:
  ports:
  - name: mesh
    port: 15008
"""

ANALYZER = "service.PortNameAnalyzer"
EXTERNAL_NAMES = """\
apiVersion: v1
kind: Service
metadata:
  name: payments
  namespace: shop
spec:
  type: ExternalName
  externalName: payments.example.com
  ports:
  - name: tcp
    port: 443
  - name: https
    port: 8443
  - name: bank
    port: 9443
"""


def analyze(meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path("mesh.yaml").write_text(textwrap.dedent(text))
    result = meshctl("analyze", "--use-kube=false", "-A", "--analyzer", ANALYZER, "mesh.yaml")
    return [line for line in result.lines if line]


def test_ports_without_a_protocol_name_are_reported_at_their_port_line(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert analyze(meshctl, tmp_path, monkeypatch, SERVICES) == [
        "Info [IST0118] (Service shop/legacy mesh.yaml:66) Port name mesh (port: 15008, targetPort: 0) "
        "doesn't follow the naming convention of Istio port.",
        "Info [IST0118] (Service shop/web mesh.yaml:10) Port name  (port: 8080, targetPort: 9080) "
        "doesn't follow the naming convention of Istio port.",
        "Info [IST0118] (Service shop/web mesh.yaml:13) Port name admin (port: 9000, targetPort: http-admin) "
        "doesn't follow the naming convention of Istio port.",
    ]


def test_external_name_services_get_their_own_warning_also_for_a_bare_tcp_name(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched "
        "traffic for ports serving TCP protocol from being forwarded correctly"
    )
    assert analyze(meshctl, tmp_path, monkeypatch, EXTERNAL_NAMES) == [
        f"Warning [IST0150] (Service shop/payments mesh.yaml:11) {text}",
        f"Warning [IST0150] (Service shop/payments mesh.yaml:15) {text}",
    ]
