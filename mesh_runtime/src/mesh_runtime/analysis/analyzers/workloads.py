"""Workload facts several analyzers share: pod specs, mesh membership, ambient mode, port protocols.

These follow Istio's analyzer helpers (`util.PodInMesh`, `util.IsIstioControlPlane`, `kube.ConvertProtocol`)
so that every analyzer draws the same conclusions from the same Pods, Deployments and Services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...resources import Resource
from ...resources.fields import mapping, sequence
from ...resources.kinds import DEPLOYMENT, NAMESPACE
from ..context import AnalysisContext

ISTIO_PROXY = "istio-proxy"
INJECTION_LABEL = "istio-injection"
INJECTION_ENABLED = "enabled"
REVISION_LABEL = "istio.io/rev"
DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode"
DATAPLANE_MODE_AMBIENT = "ambient"
#: Pod opt-in/out: a label now, an annotation formerly (the label wins when both are set).
SIDECAR_INJECT = "sidecar.istio.io/inject"
AMBIENT_REDIRECTION = "ambient.istio.io/redirection"
AMBIENT_REDIRECTION_ENABLED = "enabled"
GATEWAY_MANAGED_LABEL = "gateway.istio.io/managed"
#: Values of `gateway.istio.io/managed` on what Istio's gateway controllers create (not the user's objects).
ISTIO_GATEWAY_CONTROLLERS = frozenset(
    {"istio.io-gateway-controller", "istio.io-mesh-controller", "istio.io-eastwest-controller"}
)

# Protocols as Istio names them (`protocol.Instance`).
TCP = "TCP"
UDP = "UDP"
GRPC = "GRPC"
GRPC_WEB = "GRPC-Web"
HTTP = "HTTP"
HTTP_PROXY = "HTTP_PROXY"
HTTP2 = "HTTP2"
HTTPS = "HTTPS"
TLS = "TLS"
MONGO = "Mongo"
REDIS = "Redis"
MYSQL = "MySQL"
UNSUPPORTED = "UnsupportedProtocol"

_PROTOCOL_NAMES = {
    name.lower(): name
    for name in (TCP, UDP, GRPC, GRPC_WEB, HTTP, HTTP_PROXY, HTTP2, HTTPS, TLS, MONGO, REDIS, MYSQL)
}
#: Standard Kubernetes appProtocol values Istio understands.
_KUBERNETES_APP_PROTOCOLS = {"kubernetes.io/h2c": HTTP2, "kubernetes.io/ws": HTTP, "kubernetes.io/wss": HTTPS}
#: Server-first protocols' ports (SMTP, DNS, MySQL, MongoDB): TCP when the name says nothing.
_WELL_KNOWN_TCP_PORTS = frozenset({25, 53, 3306, 27017})


def as_str_map(value: Any) -> dict[str, str]:
    """A label map (selector, template labels) as strings; non-mapping values count as empty."""
    return {str(k): str(v) for k, v in mapping(value).items()}


def parse_protocol(text: str) -> str:
    """Istio's protocol for a name, case-insensitively (`http2` → HTTP2); UNSUPPORTED when unknown."""
    return _PROTOCOL_NAMES.get(text.lower(), UNSUPPORTED)


def convert_protocol(port: int, name: str, protocol: str, app_protocol: str | None) -> str:
    """The protocol Istio gives a Kubernetes Service port.

    UDP ports are UDP. Otherwise `appProtocol` decides when set, else the port name: `grpc-web…` is
    GRPC-Web, else the part before the first `-` is parsed. An unknown name on a well-known server-first
    port (25, 53, 3306, 27017) is TCP.
    """
    if protocol == "UDP":
        return UDP
    text = name if app_protocol is None else app_protocol
    if text in _KUBERNETES_APP_PROTOCOLS:
        return _KUBERNETES_APP_PROTOCOLS[text]
    if text[: len(GRPC_WEB)].lower() == GRPC_WEB.lower():
        return GRPC_WEB
    result = parse_protocol(text.split("-", 1)[0])
    if result == UNSUPPORTED and port in _WELL_KNOWN_TCP_PORTS:
        return TCP
    return result


def port_number(port: Mapping[str, Any], key: str = "port") -> int:
    """An integer port field, 0 when absent or not an integer."""
    value = port.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def target_port_text(port: Mapping[str, Any]) -> str:
    """A Service port's targetPort as Kubernetes prints it: the number or name, `0` when unset."""
    value = port.get("targetPort")
    if value is None or value == "":
        return "0"
    return str(value)


def is_istio_control_plane(resource: Resource) -> bool:
    """Istio's own workloads and Services: labelled `istio` (any value) or `release: istio`."""
    return "istio" in resource.labels or resource.labels.get("release") == "istio"


def is_istio_managed_gateway(resource: Resource) -> bool:
    """Objects Istio's gateway controllers generate (waypoints, Gateway API deployments)."""
    return resource.labels.get(GATEWAY_MANAGED_LABEL) in ISTIO_GATEWAY_CONTROLLERS


def pod_spec(resource: Resource) -> Mapping[str, Any]:
    """The pod spec of a Pod, or of a Deployment's pod template."""
    if resource.kind == DEPLOYMENT:
        return mapping(mapping(resource.spec.get("template")).get("spec"))
    return resource.spec


def pod_template_metadata(deployment: Resource) -> Mapping[str, Any]:
    """The `metadata` of a Deployment's pod template."""
    return mapping(mapping(deployment.spec.get("template")).get("metadata"))


def containers(spec: Mapping[str, Any], with_init: bool = False) -> list[Mapping[str, Any]]:
    """The containers of a pod spec (then its init containers, when asked), skipping malformed entries."""
    found = [c for c in sequence(spec.get("containers")) if isinstance(c, Mapping)]
    if with_init:
        found += [c for c in sequence(spec.get("initContainers")) if isinstance(c, Mapping)]
    return found


def proxy_image(spec: Mapping[str, Any], with_init: bool = False) -> str:
    """The image of the first container named istio-proxy, `""` when there is none (or it has no image)."""
    for container in containers(spec, with_init):
        if container.get("name") == ISTIO_PROXY:
            image = container.get("image")
            return image if isinstance(image, str) else ""
    return ""


def pod_in_mesh(context: AnalysisContext, pod: Resource) -> bool:
    """Whether a Pod has (or will get) a sidecar, as Istio's `PodInMesh` decides."""
    return _in_mesh(context, pod.namespace, pod.labels, pod.annotations, pod_spec(pod), with_init=True)


def deployment_in_mesh(context: AnalysisContext, deployment: Resource) -> bool:
    """Whether a Deployment's pods have (or will get) a sidecar, as Istio's `DeploymentInMesh` decides."""
    metadata = pod_template_metadata(deployment)
    labels = as_str_map(metadata.get("labels"))
    annotations = as_str_map(metadata.get("annotations"))
    return _in_mesh(context, deployment.namespace, labels, annotations, pod_spec(deployment), with_init=False)


def _in_mesh(
    context: AnalysisContext,
    namespace: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    spec: Mapping[str, Any],
    with_init: bool,
) -> bool:
    if proxy_image(spec, with_init):
        return True
    # The pod's own choice: the label, else the (deprecated) annotation.
    for choices in (labels, annotations):
        if SIDECAR_INJECT in choices:
            return choices[SIDECAR_INJECT] == "true"
    found = context.find(NAMESPACE, "", namespace)
    return found is not None and found.labels.get(INJECTION_LABEL) == INJECTION_ENABLED


def pod_in_ambient_mode(pod: Resource | None) -> bool:
    """Whether the ambient data plane redirects the Pod's traffic (the CNI marks it so)."""
    return pod is not None and pod.annotations.get(AMBIENT_REDIRECTION) == AMBIENT_REDIRECTION_ENABLED


def namespace_in_ambient_mode(namespace: Resource | None) -> bool:
    """Whether a Namespace is enrolled in ambient mode and not (also) in sidecar injection."""
    if namespace is None:
        return False
    labels = namespace.labels
    if labels.get(INJECTION_LABEL) == INJECTION_ENABLED or labels.get(REVISION_LABEL):
        return False
    return labels.get(DATAPLANE_MODE_LABEL) == DATAPLANE_MODE_AMBIENT
