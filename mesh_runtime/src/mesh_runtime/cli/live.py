"""The live mesh as analyzers see it: meshd's stored config and registry, turned into Kubernetes-like
resources (as istioctl reads a cluster).

Namespaces keep their labels; each workload becomes a Pod with its labels, and — when a sidecar runs beside
it — an `istio-proxy` container, so the injection analyzers find workloads that lack theirs (IST0103) and
namespaces not labelled for injection (IST0102). Proxies that went away are left out, as their pods would be.
A gateway's Pod has the proxy as its only container, as Istio's gateway deployments do. `meshctl get pods`
shows the same Pods.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..configapi.client import check
from ..resources import Resource, ResourceError, parse_resource
from .connection import connect

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
        workload_pod(w)
        for w in registry.get("workloads", [])
        if w.get("healthy") or w.get("kind") == "WorkloadEntry"
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


def workload_pod(workload: dict[str, Any]) -> dict[str, Any]:
    """A workload of `GET /v1/registry` as a Pod: labels, its containers and whether they are ready, its IP
    and the node it runs on.

    An application (`app`) runs beside a sidecar, or alone for a WorkloadEntry; a gateway is its proxy. The
    proxy's container is ready while the proxy is connected and healthy. The registry keeps no start time,
    so none is set.
    """
    healthy = bool(workload.get("healthy", True))
    kind = workload.get("kind")
    containers: list[dict[str, Any]] = [] if kind == "gateway" else [{"name": "app"}]
    if workload.get("hasSidecar") or kind == "gateway":
        version = workload.get("proxyVersion") or "unknown"
        containers.append({"name": PROXY_CONTAINER, "image": f"{PROXY_IMAGE}:{version}"})
    # The registry knows the proxy's health (or, for a WorkloadEntry, the workload's); an app beside a proxy
    # is taken to be running.
    beside_proxy = len(containers) == 2
    ready = [True if beside_proxy and c["name"] == "app" else healthy for c in containers]
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if all(ready) else "False"}],
        "containerStatuses": [
            {"name": c["name"], "ready": r, "restartCount": 0} for c, r in zip(containers, ready, strict=True)
        ],
        **_addresses(workload),
    }
    spec: dict[str, Any] = {
        "serviceAccountName": workload.get("serviceAccount", "default"),
        "containers": containers,
    }
    if workload.get("nodeName"):
        spec["nodeName"] = workload["nodeName"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": workload["name"],
            "namespace": workload["namespace"],
            "labels": workload.get("labels", {}),
        },
        "spec": spec,
        "status": status,
    }


def _addresses(workload: dict[str, Any]) -> dict[str, Any]:
    """A Pod's podIP(s), and hostIP(s) once it has a node.

    The workload's registered address is its IP. Workloads on hosts share their host's network (as Pods
    with hostNetwork do), so a workload whose node is known has that address as its hostIP too. meshd is
    not told where a WorkloadEntry (or a proxy from before node names) runs: it has neither nodeName nor
    hostIP, and kubectl's NODE column shows `<none>` for it.
    """
    address = workload.get("address")
    if not address:
        return {}
    found: dict[str, Any] = {"podIP": address, "podIPs": [{"ip": address}]}
    if workload.get("nodeName"):
        found.update(hostIP=address, hostIPs=[{"ip": address}])
    return found
