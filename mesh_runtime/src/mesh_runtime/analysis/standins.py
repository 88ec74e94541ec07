"""The stand-in ingress gateway added when analyzing files only.

Without a cluster there is no ingress gateway Pod or Service for Gateways to select. Like Istio's own
analyzer tests, files-only analysis adds a Pod labelled `istio: <ingressSelector>` and a Service named after
`ingressService` exposing TCP ports 80, 443, 31400 and 15443, in the mesh's root namespace.
"""

from __future__ import annotations

from ..resources import Resource, parse_resource
from .meshconfig import MeshConfig

_STANDIN_PORTS = (("http2", 80), ("https", 443), ("tcp", 31400), ("tls", 15443))


def ingress_gateway_standins(mesh_config: MeshConfig) -> tuple[Resource, ...]:
    if mesh_config.ingress_controller_mode.upper() == "OFF":
        return ()
    namespace = mesh_config.root_namespace
    labels = {"istio": mesh_config.ingress_selector}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{mesh_config.ingress_service}-dummypod",
            "namespace": namespace,
            "labels": labels,
        },
        "spec": {"containers": [{"name": "istio-proxy"}]},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": mesh_config.ingress_service, "namespace": namespace},
        "spec": {
            "selector": labels,
            "ports": [
                {"name": name, "port": port, "protocol": "TCP", "targetPort": port}
                for name, port in _STANDIN_PORTS
            ],
        },
    }
    return parse_resource(pod), parse_resource(service)
