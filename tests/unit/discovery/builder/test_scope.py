"""Sidecar resources: egress host scoping and the outbound traffic policy; exportTo."""

from __future__ import annotations

from mesh_runtime.discovery.builder import build_proxy_config
from mesh_runtime.xds import DirectResponse
from tests.unit.discovery.snapshots import bookinfo_sidecars, bookinfo_snapshot, service_yaml, sidecar

PRODUCTPAGE = bookinfo_sidecars()[0]

SIDECARS = """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts:
    - ./details.default.svc.cluster.local
    - istio-system/*
    - ~/reviews.default.svc.cluster.local
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: productpage, namespace: default}
spec:
  workloadSelector: {labels: {app: productpage}}
  egress: [{hosts: ["./*"]}]
"""


def services_of(node) -> set[str]:  # type: ignore[no-untyped-def]
    snap = bookinfo_snapshot(SIDECARS, service_yaml("istiod", "istio-system", 15012))
    return {c.service for c in build_proxy_config(snap, node).clusters if c.service}


def test_the_workload_sidecar_beats_the_namespace_sidecar() -> None:
    assert services_of(PRODUCTPAGE) == {
        f"{s}.default.svc.cluster.local" for s in ("productpage", "details", "reviews", "ratings")
    }


def test_egress_hosts_scope_the_namespace_and_registry_only_blocks_the_rest() -> None:
    reviews = bookinfo_sidecars()[2]
    assert services_of(reviews) == {
        "details.default.svc.cluster.local",
        "istiod.istio-system.svc.cluster.local",
    }
    config = build_proxy_config(bookinfo_snapshot(SIDECARS), reviews)
    names = {c.name for c in config.clusters}
    assert "BlackHoleCluster" in names and "PassthroughCluster" not in names
    catch_all = config.route_configs[0].virtual_hosts[-1]
    assert catch_all.name == "block_all" and catch_all.routes[0].direct_response == DirectResponse(502)


def test_services_not_exported_to_the_namespace_are_invisible() -> None:
    hidden = service_yaml("hidden", "private").replace(
        "labels:", 'annotations: {"networking.istio.io/exportTo": "."}, labels:'
    )
    snap = bookinfo_snapshot(hidden)
    outside = {c.service for c in build_proxy_config(snap, PRODUCTPAGE).clusters}
    assert "hidden.private.svc.cluster.local" not in outside
    inside = sidecar("client", "client", namespace="private", inbound_port=0)
    assert "hidden.private.svc.cluster.local" in {
        c.service for c in build_proxy_config(snap, inside).clusters
    }


def test_short_names_only_from_the_services_namespace() -> None:
    other = sidecar("client", "client", namespace="other", inbound_port=0)
    config = build_proxy_config(bookinfo_snapshot(), other)
    host = next(v for v in config.route_configs[0].virtual_hosts if v.name.startswith("reviews."))
    assert "reviews" not in host.domains and "reviews.default" in host.domains
    assert config.listeners[0].direction == "outbound" and len(config.listeners) == 1
