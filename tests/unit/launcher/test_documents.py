"""The registry documents a lab applies, on their own: a gateway's Service points each server port at the
port the gateway listens on, and a workload without a sidecar is a WorkloadEntry on its app's port."""

from __future__ import annotations

from pathlib import Path

from mesh_runtime.launcher import bookinfo_spec
from mesh_runtime.launcher.documents import registry_documents, service_document
from mesh_runtime.launcher.lab import Lab
from mesh_runtime.launcher.spec import PortSpec, ServiceSpec


def test_the_documents_come_in_order_namespaces_services_gateways_entries_resources(tmp_path: Path) -> None:
    lab = Lab(bookinfo_spec(), tmp_path)
    lab._plan()
    documents = registry_documents(lab.spec, lab.workloads, lab.gateways)
    kinds = [d["kind"] for d in documents]
    assert kinds[0] == "Namespace"
    assert kinds.index("Service") < kinds.index("Gateway")
    [gateway] = lab.gateways.values()
    [gateway_service] = [
        d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == gateway.spec.name
    ]
    assert {p["port"]: p["targetPort"] for p in gateway_service["spec"]["ports"]} == gateway.ports
    assert documents[-len(lab.spec.resources) :] == [dict(r) for r in lab.spec.resources]


def test_a_workload_without_a_sidecar_is_an_entry_on_its_app_port(tmp_path: Path) -> None:
    spec = bookinfo_spec(gateway_routes=False)
    plain = spec.workloads[0]
    lab = Lab(spec, tmp_path)
    lab._plan()
    workload = lab.workloads[plain.proxy_id]
    workload.proxy = None
    [entry] = [d for d in lab.registry_documents() if d["kind"] == "WorkloadEntry"]
    assert entry["metadata"]["name"] == plain.name
    assert entry["spec"]["address"] == "127.0.0.1"
    assert set(entry["spec"]["ports"].values()) == {workload.app_port}
    assert entry["spec"]["serviceAccount"] == plain.service_account


def test_a_service_document_keeps_a_target_port_only_when_set() -> None:
    service = ServiceSpec(
        "web",
        "shop",
        (PortSpec("http", 80, 8080), PortSpec("admin", 9000)),
        {"app": "web"},
        {"tier": "front"},
    )
    assert service_document(service) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "front"}},
        "spec": {
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "admin", "port": 9000}],
            "selector": {"app": "web"},
        },
    }
