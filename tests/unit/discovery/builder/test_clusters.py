"""DestinationRule traffic policies → clusters: merging, load balancing, pools, outlier detection, TLS."""

from __future__ import annotations

from mesh_runtime.discovery.builder import build_proxy_config
from mesh_runtime.xds import Cluster, ConnectionPool, LoadBalancer, OutlierDetection, TlsSettings
from tests.unit.discovery.snapshots import bookinfo_sidecars, bookinfo_snapshot, sidecar, snapshot

REVIEWS = "reviews.default.svc.cluster.local"
PRODUCTPAGE = bookinfo_sidecars()[0]

POLICY = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 1, connectTimeout: 2s}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1, maxRetries: 3, idleTimeout: 30s}
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {consistentHash: {httpHeaderName: x-user}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {simple: RANDOM}
      tls: {mode: DISABLE}
  - name: v2
    labels: {version: v2}
"""


def clusters(text: str, node=PRODUCTPAGE) -> dict[str, Cluster]:  # type: ignore[no-untyped-def]
    config = build_proxy_config(bookinfo_snapshot(text), node)
    return {c.name: c for c in config.clusters}


def test_traffic_policy_levels_merge_as_istio_merges_them() -> None:
    found = clusters(POLICY)
    base = found[f"outbound|9080||{REVIEWS}"]
    assert base.load_balancer == LoadBalancer("CONSISTENT_HASH", hash_header="x-user")
    assert base.connection_pool == ConnectionPool(1, 1, 1, 3, 2.0, 30.0)
    assert base.outlier_detection == OutlierDetection(1, None, 1.0, 180.0, 100, 0)
    assert base.tls == TlsSettings("ISTIO_MUTUAL")
    v1 = found[f"outbound|9080|v1|{REVIEWS}"]
    assert v1.load_balancer.policy == "RANDOM"  # the subset's own policy beats the DR's port level
    assert v1.tls.mode == "DISABLE" and v1.connection_pool == base.connection_pool
    v2 = found[f"outbound|9080|v2|{REVIEWS}"]
    assert v2.load_balancer == base.load_balancer and v2.subset == "v2" and v2.origin == "default/reviews"


def test_defaults_without_a_destination_rule() -> None:
    base = clusters("")[f"outbound|9080||{REVIEWS}"]
    assert base.load_balancer.policy == "LEAST_REQUEST"
    assert base.outlier_detection is None and base.connection_pool == ConnectionPool()
    assert base.origin == ""


def test_the_rule_in_the_proxys_namespace_wins_then_the_services_then_the_root() -> None:
    rules = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mesh-wide, namespace: istio-system}
spec: {host: "*.local", trafficPolicy: {loadBalancer: {simple: RANDOM}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: client-side, namespace: clients}
spec: {host: reviews.default.svc.cluster.local, trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}}
"""
    client = sidecar("client", "client", namespace="clients", inbound_port=0)
    snap = bookinfo_snapshot(rules, extra_nodes=[client])
    lb = {
        node.id: next(
            c for c in build_proxy_config(snap, node).clusters if c.name == f"outbound|9080||{REVIEWS}"
        )
        for node in (PRODUCTPAGE, client)
    }
    assert lb[PRODUCTPAGE.id].origin == "default/reviews"
    assert lb[client.id].origin == "clients/client-side"
    ratings = next(
        c for c in build_proxy_config(snap, PRODUCTPAGE).clusters if c.service.startswith("ratings.")
    )
    assert (ratings.origin, ratings.load_balancer.policy) == ("istio-system/mesh-wide", "RANDOM")


def test_a_rule_not_exported_to_the_proxy_is_ignored() -> None:
    rule = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec: {host: reviews, exportTo: ["."], trafficPolicy: {loadBalancer: {simple: RANDOM}}}
"""
    client = sidecar("client", "client", namespace="clients", inbound_port=0)
    snap = bookinfo_snapshot(rule, extra_nodes=[client])
    reviews = {c.name: c for c in build_proxy_config(snap, client).clusters}[f"outbound|9080||{REVIEWS}"]
    assert reviews.origin == ""


def test_service_entry_with_port_level_tls_origination(istio_reference) -> None:  # type: ignore[no-untyped-def]
    text = (istio_reference / "bookinfo" / "networking" / "egress-rule-google-apis.yaml").read_text()
    config = build_proxy_config(snapshot(text), PRODUCTPAGE)
    found = {c.name: c for c in config.clusters}
    https = found["outbound|443||www.googleapis.com"]
    assert https.tls.mode == "SIMPLE" and https.load_balancer.policy == "ROUND_ROBIN"
    assert found["outbound|80||www.googleapis.com"].tls.mode == "DISABLE"
    endpoints = {a.cluster: a.endpoints for a in config.endpoints}["outbound|443||www.googleapis.com"]
    assert [(e.address, e.port, e.has_sidecar) for e in endpoints] == [("www.googleapis.com", 443, False)]
    (port80,) = [rc for rc in config.route_configs if rc.name == "80"]
    host = next(v for v in port80.virtual_hosts if v.name == "www.googleapis.com:80")
    assert host.domains == ("www.googleapis.com", "www.googleapis.com:80")
    assert host.routes[0].clusters[0].cluster == "outbound|443||www.googleapis.com"
    assert [rc.name for rc in config.route_configs] == ["80"]  # 443 is HTTPS: not routed as HTTP
