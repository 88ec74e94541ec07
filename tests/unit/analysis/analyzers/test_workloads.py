from __future__ import annotations

import pytest

from mesh_runtime.analysis.analyzers.workloads import (
    convert_protocol,
    deployment_in_mesh,
    namespace_in_ambient_mode,
    pod_in_ambient_mode,
    pod_in_mesh,
    target_port_text,
)
from mesh_runtime.analysis.context import AnalysisContext
from mesh_runtime.resources import Resource, load_text


@pytest.mark.parametrize(
    ("port", "name", "protocol", "app_protocol", "expected"),
    [
        (80, "http", "TCP", None, "HTTP"),
        (80, "HTTP2-frontend", "TCP", None, "HTTP2"),
        (80, "grpc-web", "TCP", None, "GRPC-Web"),
        (80, "grpc-web-ui", "TCP", None, "GRPC-Web"),
        (80, "grpc-ui", "TCP", None, "GRPC"),
        (80, "mongo-primary", "", None, "Mongo"),
        (80, "http_proxy", "", None, "HTTP_PROXY"),
        (80, "web", "TCP", None, "UnsupportedProtocol"),
        (80, "", "TCP", None, "UnsupportedProtocol"),
        (80, "web", "UDP", "http", "UDP"),
        (80, "web", "TCP", "https", "HTTPS"),
        (80, "http", "TCP", "hbone", "UnsupportedProtocol"),
        (80, "web", "TCP", "kubernetes.io/h2c", "HTTP2"),
        (80, "web", "TCP", "kubernetes.io/wss", "HTTPS"),
        (3306, "db", "TCP", None, "TCP"),
        (27017, "", "TCP", None, "TCP"),
        (3307, "db", "TCP", None, "UnsupportedProtocol"),
    ],
)
def test_convert_protocol_follows_istio(
    port: int, name: str, protocol: str, app_protocol: str | None, expected: str
) -> None:
    assert convert_protocol(port, name, protocol, app_protocol) == expected


def test_target_port_prints_number_name_or_zero() -> None:
    ports = ({"targetPort": 80}, {"targetPort": "http"}, {})
    assert [target_port_text(port) for port in ports] == ["80", "http", "0"]


WORKLOADS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: injected
  labels: {istio-injection: enabled}
---
apiVersion: v1
kind: Namespace
metadata:
  name: ambient
  labels: {istio.io/dataplane-mode: ambient}
---
apiVersion: v1
kind: Namespace
metadata:
  name: both
  labels: {istio.io/dataplane-mode: ambient, istio.io/rev: canary}
---
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: injected}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: opted-out, namespace: injected, labels: {sidecar.istio.io/inject: "false"}}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: label-beats-annotation, namespace: other, labels: {sidecar.istio.io/inject: "true"},
           annotations: {sidecar.istio.io/inject: "false"}}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: native-sidecar, namespace: other}
spec: {containers: [{name: app, image: app}], initContainers: [{name: istio-proxy, image: proxyv2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: proxy-without-image, namespace: other}
spec: {containers: [{name: istio-proxy}]}
---
apiVersion: v1
kind: Pod
metadata: {name: redirected, namespace: ambient, annotations: {ambient.istio.io/redirection: enabled}}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: annotated, namespace: other}
spec:
  template:
    metadata: {annotations: {sidecar.istio.io/inject: "true"}}
    spec: {containers: [{name: app, image: app}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: in-injected, namespace: injected}
spec:
  template:
    spec: {containers: [{name: app, image: app}]}
"""


@pytest.fixture
def context() -> AnalysisContext:
    loaded = load_text(WORKLOADS, "workloads.yaml")
    assert not loaded.errors
    return AnalysisContext(loaded.resources)


def named(context: AnalysisContext, name: str) -> Resource:
    return next(r for r in context.resources if r.name == name)


def test_pod_in_mesh_decides_like_istio(context: AnalysisContext) -> None:
    in_mesh = {
        name: pod_in_mesh(context, named(context, name))
        for name in ("plain", "opted-out", "label-beats-annotation", "native-sidecar", "proxy-without-image")
    }
    assert in_mesh == {
        "plain": True,
        "opted-out": False,
        "label-beats-annotation": True,
        "native-sidecar": True,
        "proxy-without-image": False,
    }


def test_deployment_in_mesh_reads_the_pod_template(context: AnalysisContext) -> None:
    assert deployment_in_mesh(context, named(context, "annotated"))
    assert deployment_in_mesh(context, named(context, "in-injected"))


def test_ambient_mode_of_pods_and_namespaces(context: AnalysisContext) -> None:
    assert pod_in_ambient_mode(named(context, "redirected"))
    assert not pod_in_ambient_mode(named(context, "plain"))
    assert namespace_in_ambient_mode(named(context, "ambient"))
    assert not namespace_in_ambient_mode(named(context, "both"))
    assert not namespace_in_ambient_mode(None)
