"""The built-in Bookinfo lab is Bookinfo's own manifest: the same Services, service accounts and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mesh_runtime.launcher import bookinfo_spec
from mesh_runtime.launcher.lab import Lab


def manifest(istio_reference: Path) -> list[dict[str, Any]]:
    text = (istio_reference / "bookinfo" / "platform" / "kube" / "bookinfo.yaml").read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def test_services_are_those_of_bookinfo_yaml(istio_reference: Path, tmp_path: Path) -> None:
    expected = {
        d["metadata"]["name"]: (d["metadata"]["labels"], d["spec"]["ports"], d["spec"]["selector"])
        for d in manifest(istio_reference)
        if d["kind"] == "Service"
    }
    lab = Lab(bookinfo_spec(gateway_routes=False), tmp_path)
    documents = [d for d in lab.registry_documents() if d["kind"] == "Service"]
    built = {
        d["metadata"]["name"]: (d["metadata"]["labels"], d["spec"]["ports"], d["spec"]["selector"])
        for d in documents
    }
    assert built == expected


def test_workloads_are_the_deployments_of_bookinfo_yaml(istio_reference: Path) -> None:
    expected = {
        d["metadata"]["name"]: (
            d["spec"]["template"]["spec"]["serviceAccountName"],
            d["spec"]["template"]["metadata"]["labels"],
        )
        for d in manifest(istio_reference)
        if d["kind"] == "Deployment"
    }
    spec = bookinfo_spec()
    assert {w.name: (w.service_account, dict(w.labels)) for w in spec.workloads} == expected
    assert all(w.sidecar and w.namespace == "default" for w in spec.workloads)


def test_the_gateway_routes_match_bookinfo_gateway_yaml(istio_reference: Path) -> None:
    text = (istio_reference / "bookinfo" / "networking" / "bookinfo-gateway.yaml").read_text()
    reference = {d["kind"]: d for d in yaml.safe_load_all(text) if d}
    built = {d["kind"]: d for d in bookinfo_spec().resources}
    for kind in ("Gateway", "VirtualService"):
        assert built[kind]["spec"] == reference[kind]["spec"], kind
        assert built[kind]["metadata"]["name"] == reference[kind]["metadata"]["name"]
    assert bookinfo_spec(gateway_routes=False).resources == ()
    gateway = bookinfo_spec().gateways[0]
    assert dict(gateway.labels)["istio"] == "ingressgateway"
    assert [p.port for p in gateway.ports] == [8080]
