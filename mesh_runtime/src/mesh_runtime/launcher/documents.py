"""The registry documents a lab applies before its proxies start: its namespaces, its Services (the
gateways' too, each server port pointing at where the gateway listens) and a WorkloadEntry for each workload
without a sidecar, then the spec's own resources. Pure functions of the spec and the ports chosen for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Gateway, Workload
from .ports import LOOPBACK
from .spec import LabSpec, ServiceSpec


def registry_documents(
    spec: LabSpec, workloads: Mapping[str, Workload], gateways: Mapping[str, Gateway]
) -> list[dict[str, Any]]:
    """Namespaces, Services (the gateways' too), WorkloadEntries of workloads without a sidecar, then the
    spec's resources."""
    documents: list[dict[str, Any]] = []
    for namespace in spec.namespaces:
        metadata: dict[str, Any] = {"name": namespace.name}
        if namespace.labels:
            metadata["labels"] = dict(namespace.labels)
        documents.append({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
    documents += [service_document(s) for s in spec.services]
    documents += [gateway_service(g) for g in gateways.values()]
    documents += [workload_entry(spec, w) for w in workloads.values() if w.proxy is None]
    documents += [dict(r) for r in spec.resources]
    return documents


def gateway_service(gateway: Gateway) -> dict[str, Any]:
    """The gateway's Service (as Istio's istio-ingressgateway): each server port to where it listens."""
    spec = gateway.spec
    document = service_document(ServiceSpec(spec.name, spec.namespace, spec.ports, spec.labels, spec.labels))
    for port in document["spec"]["ports"]:
        port["targetPort"] = gateway.ports[port["port"]]
    return document


def workload_entry(lab: LabSpec, workload: Workload) -> dict[str, Any]:
    """The WorkloadEntry of a workload without a sidecar: its app's port for each Service selecting it."""
    spec = workload.spec
    ports = {
        port.name: workload.app_port
        for service in lab.services
        if spec in lab.selected_workloads(service)
        for port in service.ports
    }
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "WorkloadEntry",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": dict(spec.labels)},
        "spec": {
            "address": LOOPBACK,
            "labels": dict(spec.labels),
            "serviceAccount": spec.service_account,
            **({"ports": ports} if ports else {}),
        },
    }


def service_document(service: ServiceSpec) -> dict[str, Any]:
    """A Kubernetes Service for the spec's service: its ports and selector."""
    ports = []
    for port in service.ports:
        entry: dict[str, Any] = {"name": port.name, "port": port.port}
        if port.target_port:
            entry["targetPort"] = port.target_port
        ports.append(entry)
    metadata: dict[str, Any] = {"name": service.name, "namespace": service.namespace}
    if service.labels:
        metadata["labels"] = dict(service.labels)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"ports": ports, "selector": dict(service.selector)},
    }
