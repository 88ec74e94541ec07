"""Building snapshots for tests from YAML text, Bookinfo's registry and proxies' Nodes (no database)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mesh_runtime.discovery.frozen import freeze
from mesh_runtime.discovery.registry import workload_from_node
from mesh_runtime.discovery.snapshot import MeshSettings, Snapshot, build_snapshot
from mesh_runtime.discovery.store import NamespaceRecord, StoredObject
from mesh_runtime.resources import load_text
from mesh_runtime.xds import Node

BOOKINFO_SERVICES = ("productpage", "details", "reviews", "ratings")
#: (workload, app, version, app port, inbound port)
BOOKINFO_WORKLOADS = (
    ("productpage-v1", "productpage", "v1", 19080, 15106),
    ("details-v1", "details", "v1", 19081, 15116),
    ("reviews-v1", "reviews", "v1", 19082, 15126),
    ("reviews-v2", "reviews", "v2", 19083, 15136),
    ("reviews-v3", "reviews", "v3", 19084, 15146),
    ("ratings-v1", "ratings", "v1", 19085, 15156),
)


def documents(text: str, namespace: str = "default", first_revision: int = 1) -> list[StoredObject]:
    """Every document of a YAML text as stored objects, in order, oldest first."""
    loaded = load_text(text, "test.yaml")
    assert not loaded.errors, loaded.errors
    stored = []
    for offset, resource in enumerate(loaded.resources):
        ns = resource.namespace or namespace
        body: dict[str, Any] = {**resource.body, "metadata": {**resource.body["metadata"], "namespace": ns}}
        revision = first_revision + offset
        stored.append(
            StoredObject(resource.kind.kind, ns, resource.name, freeze(body), revision, revision, "")
        )
    return stored


def service_yaml(name: str, namespace: str = "default", port: int = 9080, target: int | None = None) -> str:
    target_line = f"\n    targetPort: {target}" if target is not None else ""
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}, labels: {{app: {name}, service: {name}}}}}
spec:
  selector: {{app: {name}}}
  ports:
  - name: http
    port: {port}{target_line}
---
"""


def bookinfo_services_yaml() -> str:
    """Bookinfo's Services, the ports going to each workload's application port."""
    return "".join(service_yaml(name) for name in BOOKINFO_SERVICES)


def sidecar(
    workload: str,
    app: str,
    version: str = "v1",
    app_port: int = 9080,
    inbound_port: int = 15006,
    namespace: str = "default",
    service_account: str | None = None,
    outbound_port: int = 15001,
    extra_labels: Mapping[str, str] | None = None,
) -> Node:
    return Node(
        id=f"{workload}.{namespace}",
        type="sidecar",
        namespace=namespace,
        workload=workload,
        service_account=service_account or f"bookinfo-{app}",
        labels={"app": app, "version": version, **(extra_labels or {})},
        address="127.0.0.1",
        inbound_port=inbound_port,
        app_ports=(app_port,),
        outbound_port=outbound_port,
        admin_port=15000,
        proxy_version="0.1.0",
    )


def bookinfo_sidecars() -> list[Node]:
    """Bookinfo's sidecars, as on one host: each application on its own loopback port."""
    return [
        sidecar(workload, app, version, app_port, inbound)
        for workload, app, version, app_port, inbound in BOOKINFO_WORKLOADS
    ]


def ingress_gateway(inbound_port: int = 0) -> Node:
    return Node(
        id="istio-ingressgateway.istio-system",
        type="gateway",
        namespace="istio-system",
        workload="istio-ingressgateway",
        service_account="istio-ingressgateway-service-account",
        labels={"app": "istio-ingressgateway", "istio": "ingressgateway"},
        address="127.0.0.1",
        inbound_port=inbound_port,
        admin_port=15000,
        proxy_version="0.1.0",
    )


def snapshot(
    *texts: str,
    nodes: Iterable[Node] = (),
    namespaces: Mapping[str, Mapping[str, str]] | None = None,
    settings: MeshSettings | None = None,
) -> Snapshot:
    """A snapshot of these YAML texts (applied in order) and of these connected proxies."""
    stored: list[StoredObject] = []
    for text in texts:
        stored += documents(text, first_revision=len(stored) + 1)
    records = [NamespaceRecord(n, labels, 1, "") for n, labels in (namespaces or {"default": {}}).items()]
    return build_snapshot(
        stored,
        records,
        [workload_from_node(n) for n in nodes],
        revision=len(stored),
        registry_version=1,
        settings=settings,
    )


def bookinfo_snapshot(*config: str, extra_nodes: Iterable[Node] = ()) -> Snapshot:
    return snapshot(bookinfo_services_yaml(), *config, nodes=[*bookinfo_sidecars(), *extra_nodes])


def networking(istio_reference: Path, name: str) -> str:
    return (istio_reference / "bookinfo" / "networking" / name).read_text()
