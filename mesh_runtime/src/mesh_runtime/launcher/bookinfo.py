"""The built-in lab: Istio's Bookinfo on this machine (`mesh-lab up --spec bookinfo`).

The four services of Bookinfo's Kubernetes manifest (`details`, `ratings`, `reviews`, `productpage`, port 9080
named `http`, selecting `app: <service>`), its six workloads (`productpage-v1`, `details-v1`,
`reviews-v1|v2|v3`, `ratings-v1`, service account `bookinfo-<service>`, labels `app` and `version`), each run
by the `bookinfo` command of samples/bookinfo with a sidecar, in namespace `default` labelled for injection;
and the ingress gateway (`istio-system`, `istio: ingressgateway`, Gateway port 8080). With `gateway_routes`,
the Gateway and VirtualService that publish productpage on that port (what Bookinfo's
`bookinfo-gateway.yaml` sets up) are applied too.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from .spec import GatewaySpec, LabSpec, NamespaceSpec, PortSpec, ServiceSpec, WorkloadSpec

SERVICE_PORT = 9080
GATEWAY_PORT = 8080
INGRESS_GATEWAY = "istio-ingressgateway"
INGRESS_NAMESPACE = "istio-system"
SERVICES = ("details", "ratings", "reviews", "productpage")
WORKLOADS = (
    ("details", "v1"),
    ("ratings", "v1"),
    ("reviews", "v1"),
    ("reviews", "v2"),
    ("reviews", "v3"),
    ("productpage", "v1"),
)


def bookinfo_spec(gateway_routes: bool = True) -> LabSpec:
    return LabSpec(
        name="bookinfo",
        namespaces=(
            NamespaceSpec("default", MappingProxyType({"istio-injection": "enabled"})),
            NamespaceSpec(INGRESS_NAMESPACE),
        ),
        services=tuple(_service(name) for name in SERVICES),
        workloads=tuple(_workload(name, version) for name, version in WORKLOADS),
        gateways=(
            GatewaySpec(
                name=INGRESS_GATEWAY,
                namespace=INGRESS_NAMESPACE,
                service_account=f"{INGRESS_GATEWAY}-service-account",
                labels=MappingProxyType({"app": INGRESS_GATEWAY, "istio": "ingressgateway"}),
                ports=(PortSpec("http2", GATEWAY_PORT),),
            ),
        ),
        resources=gateway_documents() if gateway_routes else (),
    )


def _service(name: str) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        namespace="default",
        ports=(PortSpec("http", SERVICE_PORT),),
        selector=MappingProxyType({"app": name}),
        labels=MappingProxyType({"app": name, "service": name}),
    )


def _workload(service: str, version: str) -> WorkloadSpec:
    return WorkloadSpec(
        name=f"{service}-{version}",
        namespace="default",
        service_account=f"bookinfo-{service}",
        labels=MappingProxyType({"app": service, "version": version}),
        command=(
            "{python}",
            "-m",
            "bookinfo",
            service,
            "--version",
            version,
            "--host",
            "{host}",
            "--port",
            "{app_port}",
        ),
    )


def gateway_documents() -> tuple[dict[str, Any], ...]:
    """A Gateway on port 8080 for any host and a VirtualService sending the page's paths to productpage."""
    gateway = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "bookinfo-gateway", "namespace": "default"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {"port": {"number": GATEWAY_PORT, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
            ],
        },
    }
    paths = [
        {"uri": {"exact": "/productpage"}},
        {"uri": {"prefix": "/static"}},
        {"uri": {"exact": "/login"}},
        {"uri": {"exact": "/logout"}},
        {"uri": {"prefix": "/api/v1/products"}},
    ]
    virtual_service = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "bookinfo", "namespace": "default"},
        "spec": {
            "hosts": ["*"],
            "gateways": ["bookinfo-gateway"],
            "http": [
                {
                    "match": paths,
                    "route": [{"destination": {"host": "productpage", "port": {"number": SERVICE_PORT}}}],
                }
            ],
        },
    }
    return gateway, virtual_service
