"""Preparing applied text: every kind's checks, namespaces, errors with source, line and path."""

from __future__ import annotations

from mesh_runtime.discovery.documents import kind_named, namespace_document, object_document, prepare
from mesh_runtime.discovery.store import NamespaceRecord, PutNamespace, PutObject, StoredObject

GOOD = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  resourceVersion: "12"
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
status: {}
---
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {istio-injection: enabled}}
"""


def test_good_documents_become_writes_with_their_namespace_ensured() -> None:
    prepared = prepare(GOOD, "good.yaml")
    assert prepared.errors == []
    ensure, put, namespace = prepared.writes
    assert ensure == PutNamespace("default", ensure_only=True)
    assert isinstance(put, PutObject) and (put.kind, put.namespace, put.name) == (
        "VirtualService",
        "default",
        "reviews",
    )
    assert put.body["metadata"] == {"name": "reviews", "namespace": "default"}
    assert "status" not in put.body
    assert namespace == PutNamespace("prod", labels={"istio-injection": "enabled"})
    assert prepared.documents == [
        ("VirtualService", "networking.istio.io", "default", "reviews"),
        ("Namespace", "", "", "prod"),
    ]


def test_an_invalid_document_names_file_line_resource_and_path() -> None:
    text = (
        GOOD
        + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    timeout: fast
"""
    )
    errors = prepare(text, "bad.yaml").errors
    assert len(errors) >= 1
    error = errors[0]
    assert (error.source, error.line, error.resource) == ("bad.yaml", 26, "VirtualService prod/bad")
    assert error.path == "spec.http[0].timeout"
    assert error.message.startswith(error.path)


def test_namespace_flag_mismatch_and_unstored_kinds() -> None:
    text = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: other}
spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
"""
    errors = prepare(text, "x.yaml", namespace="default").errors
    assert [e.path for e in errors][0] == "metadata.namespace" or any(
        e.path == "metadata.namespace" for e in errors
    )
    messages = " | ".join(e.message for e in errors)
    assert "does not match the namespace 'default' given with -n" in messages
    assert "Deployment (apps) is not something meshd stores" in messages
    assert "ServiceAccount (core) is not something meshd stores" in messages


def test_registry_kinds_are_checked() -> None:
    text = """
apiVersion: v1
kind: Service
metadata: {name: Reviews}
spec:
  selector: {app: "bad value!"}
  ports:
  - {port: 70000, targetPort: "no such name!"}
  - {port: 80, protocol: HTTP}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm}
spec: {address: "not an address!", ports: {http: 0}, weight: -1}
"""
    paths = {e.path for e in prepare(text, "r.yaml").errors}
    assert {
        "metadata.name",
        "spec.selector.app",
        "spec.ports[0].port",
        "spec.ports[0].targetPort",
        "spec.ports[0].name",
        "spec.ports[1].protocol",
        "spec.address",
        "spec.ports.http",
        "spec.weight",
    } <= paths


def test_unreadable_text_and_empty_text() -> None:
    (error,) = prepare("kind: [unclosed", "broken.yaml").errors
    assert (error.source, error.resource) == ("broken.yaml", "") and "invalid YAML" in error.message
    (empty,) = prepare("# nothing\n", "empty.yaml").errors
    assert empty.message == "no objects passed to apply"


def test_output_documents_and_kind_names() -> None:
    stored = StoredObject(
        "Service", "default", "x", {"metadata": {"name": "x"}}, 7, 3, "2024-01-01T00:00:00Z"
    )
    assert object_document(stored)["metadata"] == {
        "name": "x",
        "resourceVersion": "7",
        "creationTimestamp": "2024-01-01T00:00:00Z",
    }
    document = namespace_document(NamespaceRecord("prod", {"a": "b"}, 2, "t"))
    assert document["metadata"]["labels"] == {"a": "b"} and document["status"] == {"phase": "Active"}
    found = kind_named("virtualservices")
    assert found is not None and found.kind == "VirtualService"
    assert kind_named("Service") is not None and kind_named("deployment") is None
