"""The live mesh as analyzers see it: meshd's stored config and registry, turned into Kubernetes-like
resources (as istioctl reads a cluster).

Namespaces keep their labels; each workload becomes a Pod with its labels, and — when a sidecar runs beside
it — an `istio-proxy` container, so the injection analyzers find workloads that lack theirs (IST0103) and
namespaces not labelled for injection (IST0102). Proxies that went away are left out, as their pods would be.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..resources import Resource, ResourceError, parse_resource
from .client import check, connect

PROXY_CONTAINER = "istio-proxy"
PROXY_IMAGE = "meshlab/mesh-proxy"


def live_resources(args: argparse.Namespace) -> list[Resource]:
    """Every stored resource, every namespace and every workload; CommandError if meshd cannot be asked."""
    client = connect(args)
    items = check(client.request("GET", "/v1/resources"))["items"]
    registry = check(client.request("GET", "/v1/registry"))
    documents: list[Any] = [_namespace(n) for n in registry.get("namespaces", [])]
    documents += items
    documents += [
        _pod(w) for w in registry.get("workloads", []) if w.get("healthy") or w.get("kind") == "WorkloadEntry"
    ]
    resources = []
    for document in documents:
        try:
            resources.append(parse_resource(document))
        except ResourceError:
            continue  # meshd validated what it stored; a document it could not have stored is skipped
    return resources


def _namespace(namespace: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace["name"], "labels": namespace.get("labels", {})},
    }


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [{"name": "app"}]
    if workload.get("hasSidecar") or workload.get("kind") == "gateway":
        version = workload.get("proxyVersion") or "unknown"
        containers.append({"name": PROXY_CONTAINER, "image": f"{PROXY_IMAGE}:{version}"})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": workload["name"],
            "namespace": workload["namespace"],
            "labels": workload.get("labels", {}),
        },
        "spec": {"serviceAccountName": workload.get("serviceAccount", "default"), "containers": containers},
    }
