"""build_proxy_config over Bookinfo and Istio's own networking samples: snapshot in, ProxyConfig out."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh_runtime.discovery.builder import build_load_assignments, build_proxy_config
from mesh_runtime.xds import (
    Cluster,
    ClusterLoadAssignment,
    FaultAbort,
    FaultDelay,
    HeaderMatch,
    ProxyConfig,
    RouteMatch,
    StringMatch,
    VirtualHost,
    WeightedCluster,
    decode,
    encode,
)
from tests.unit.discovery.snapshots import (
    bookinfo_sidecars,
    bookinfo_snapshot,
    ingress_gateway,
    networking,
)

REVIEWS = "reviews.default.svc.cluster.local"
RATINGS = "ratings.default.svc.cluster.local"
PRODUCTPAGE = "productpage.default.svc.cluster.local"
PRODUCTPAGE_NODE = bookinfo_sidecars()[0]


def vhost(config: ProxyConfig, route_config: str, name: str) -> VirtualHost:
    routes = next(rc for rc in config.route_configs if rc.name == route_config)
    return next(v for v in routes.virtual_hosts if v.name == name)


def cluster(config: ProxyConfig, name: str) -> Cluster:
    return next(c for c in config.clusters if c.name == name)


def assignment(config: ProxyConfig, name: str) -> ClusterLoadAssignment:
    return next(a for a in config.endpoints if a.cluster == name)


def workloads_of(config: ProxyConfig, name: str) -> list[str]:
    return [e.workload for e in assignment(config, name).endpoints]


def test_without_rules_every_service_gets_a_default_route_and_mutual_tls() -> None:
    config = build_proxy_config(bookinfo_snapshot(), PRODUCTPAGE_NODE)
    assert [rc.name for rc in config.route_configs] == ["9080"]
    names = [v.name for v in config.route_configs[0].virtual_hosts]
    assert names == [
        f"{s}.default.svc.cluster.local:9080" for s in ("productpage", "details", "reviews", "ratings")
    ] + ["allow_any"]
    reviews = vhost(config, "9080", f"{REVIEWS}:9080")
    assert {"reviews", "reviews:9080", REVIEWS, f"{REVIEWS}:9080", "reviews.default"} <= set(reviews.domains)
    (route,) = reviews.routes
    assert route.clusters == (WeightedCluster(f"outbound|9080||{REVIEWS}", 100),)
    assert route.retry is not None and route.retry.attempts == 2 and 503 in route.retry.retriable_status_codes
    assert cluster(config, f"outbound|9080||{REVIEWS}").tls.mode == "ISTIO_MUTUAL"
    endpoints = assignment(config, f"outbound|9080||{REVIEWS}").endpoints
    assert [e.workload for e in endpoints] == ["reviews-v1", "reviews-v2", "reviews-v3"]
    first = endpoints[0]
    assert (first.address, first.port, first.has_sidecar, first.healthy) == ("127.0.0.1", 15126, True, True)
    assert first.identity == "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
    assert first.labels == {"app": "reviews", "version": "v1"}


def test_sidecar_listeners_outbound_proxy_and_inbound_mtls_in_front_of_the_app() -> None:
    config = build_proxy_config(bookinfo_snapshot(), PRODUCTPAGE_NODE)
    outbound, inbound = config.listeners
    assert (outbound.direction, outbound.address, outbound.port) == ("outbound", "127.0.0.1", 15001)
    assert (inbound.direction, inbound.port, inbound.app_port) == ("inbound", 15106, 19080)
    assert inbound.peer_authentication.mode == "PERMISSIVE"
    assert cluster(config, "inbound|19080||").direction == "inbound"
    assert assignment(config, "inbound|19080||").endpoints[0].port == 19080
    assert cluster(config, "PassthroughCluster").load_balancer.policy == "PASSTHROUGH"


def test_virtual_service_all_v1_routes_to_subset_clusters(istio_reference: Path) -> None:
    config = build_proxy_config(
        bookinfo_snapshot(
            networking(istio_reference, "destination-rule-all.yaml"),
            networking(istio_reference, "virtual-service-all-v1.yaml"),
        ),
        PRODUCTPAGE_NODE,
    )
    (route,) = vhost(config, "9080", f"{REVIEWS}:9080").routes
    assert route.clusters == (WeightedCluster(f"outbound|9080|v1|{REVIEWS}", 100),)
    assert route.origin == "default/reviews"
    assert workloads_of(config, f"outbound|9080|v1|{REVIEWS}") == ["reviews-v1"]
    assert workloads_of(config, f"outbound|9080|v3|{REVIEWS}") == ["reviews-v3"]
    assert workloads_of(config, f"outbound|9080||{REVIEWS}") == ["reviews-v1", "reviews-v2", "reviews-v3"]
    assert cluster(config, f"outbound|9080|v2|{REVIEWS}").origin == "default/reviews"


def test_reviews_test_v2_sends_jason_to_v2_and_everyone_else_to_v1(istio_reference: Path) -> None:
    config = build_proxy_config(
        bookinfo_snapshot(
            networking(istio_reference, "destination-rule-all.yaml"),
            networking(istio_reference, "virtual-service-reviews-test-v2.yaml"),
        ),
        PRODUCTPAGE_NODE,
    )
    jason, everyone = vhost(config, "9080", f"{REVIEWS}:9080").routes
    assert jason.matches == (RouteMatch(headers=(HeaderMatch("end-user", StringMatch("exact", "jason")),)),)
    assert jason.clusters == (WeightedCluster(f"outbound|9080|v2|{REVIEWS}", 100),)
    assert everyone.matches == ()
    assert everyone.clusters == (WeightedCluster(f"outbound|9080|v1|{REVIEWS}", 100),)


@pytest.mark.parametrize(
    ("sample", "weights"),
    [
        ("virtual-service-reviews-50-v3.yaml", [("v1", 50), ("v3", 50)]),
        ("virtual-service-reviews-80-20.yaml", [("v1", 80), ("v2", 20)]),
    ],
)
def test_weighted_routes(istio_reference: Path, sample: str, weights: list[tuple[str, int]]) -> None:
    config = build_proxy_config(
        bookinfo_snapshot(
            networking(istio_reference, "destination-rule-all.yaml"), networking(istio_reference, sample)
        ),
        PRODUCTPAGE_NODE,
    )
    (route,) = vhost(config, "9080", f"{REVIEWS}:9080").routes
    assert route.clusters == tuple(WeightedCluster(f"outbound|9080|{s}|{REVIEWS}", w) for s, w in weights)


def test_ratings_test_delay_and_abort(istio_reference: Path) -> None:
    reviews_v2 = bookinfo_sidecars()[3]
    rule = networking(istio_reference, "destination-rule-all.yaml")
    delayed = build_proxy_config(
        bookinfo_snapshot(rule, networking(istio_reference, "virtual-service-ratings-test-delay.yaml")),
        reviews_v2,
    )
    first, second = vhost(delayed, "9080", f"{RATINGS}:9080").routes
    assert first.fault_delay == FaultDelay(7.0, 100.0) and first.fault_abort is None
    assert second.fault_delay is None and second.clusters == (
        WeightedCluster(f"outbound|9080|v1|{RATINGS}", 100),
    )
    aborted = build_proxy_config(
        bookinfo_snapshot(rule, networking(istio_reference, "virtual-service-ratings-test-abort.yaml")),
        reviews_v2,
    )
    first, _ = vhost(aborted, "9080", f"{RATINGS}:9080").routes
    assert first.fault_abort == FaultAbort(500, 100.0) and first.fault_delay is None
    assert first.matches[0].headers == (HeaderMatch("end-user", StringMatch("exact", "jason")),)


def test_destination_rule_all_mtls_sets_istio_mutual_on_every_subset(istio_reference: Path) -> None:
    config = build_proxy_config(
        bookinfo_snapshot(networking(istio_reference, "destination-rule-all-mtls.yaml")), PRODUCTPAGE_NODE
    )
    reviews = [c for c in config.clusters if c.service == REVIEWS]
    assert [c.subset for c in reviews] == ["", "v1", "v2", "v3"]
    assert {c.tls.mode for c in reviews} == {"ISTIO_MUTUAL"}
    assert {c.origin for c in reviews} == {"default/reviews"}
    assert workloads_of(config, f"outbound|9080|v2|{REVIEWS}") == ["reviews-v2"]
    assert assignment(config, f"outbound|9080|v2-mysql|{RATINGS}").endpoints == ()


def test_bookinfo_gateway_on_the_ingress_gateway(istio_reference: Path) -> None:
    snapshot = bookinfo_snapshot(
        networking(istio_reference, "bookinfo-gateway.yaml"), extra_nodes=[ingress_gateway()]
    )
    config = build_proxy_config(snapshot, ingress_gateway())
    (listener,) = config.listeners
    assert (listener.direction, listener.port, listener.route_config) == ("gateway", 8080, "http.8080")
    assert listener.tls.mode == "DISABLE"
    (route_config,) = config.route_configs
    (host,) = route_config.virtual_hosts
    assert host.domains == ("*",)
    (route,) = host.routes
    assert [m.uri for m in route.matches] == [
        StringMatch("exact", "/productpage"),
        StringMatch("prefix", "/static"),
        StringMatch("exact", "/login"),
        StringMatch("exact", "/logout"),
        StringMatch("prefix", "/api/v1/products"),
    ]
    assert route.clusters == (WeightedCluster(f"outbound|9080||{PRODUCTPAGE}", 100),)
    assert workloads_of(config, f"outbound|9080||{PRODUCTPAGE}") == ["productpage-v1"]
    assert config.authorization == ()
    # The VirtualService is bound to the gateway only: sidecars keep the default route.
    sidecar = build_proxy_config(snapshot, bookinfo_sidecars()[1])
    (default,) = vhost(sidecar, "9080", f"{PRODUCTPAGE}:9080").routes
    assert default.name == "default"


def test_gateway_listener_moves_to_the_port_the_node_was_given(istio_reference: Path) -> None:
    node = ingress_gateway(inbound_port=18080)
    config = build_proxy_config(bookinfo_snapshot(networking(istio_reference, "bookinfo-gateway.yaml")), node)
    (listener,) = config.listeners
    assert (listener.port, listener.route_config) == (18080, "http.8080")


def test_a_gateway_without_gateways_gets_clusters_but_no_listeners() -> None:
    config = build_proxy_config(bookinfo_snapshot(), ingress_gateway())
    assert config.listeners == () and config.route_configs == ()
    assert f"outbound|9080||{PRODUCTPAGE}" in {c.name for c in config.clusters}


def test_endpoint_only_build_equals_the_full_builds_endpoints(istio_reference: Path) -> None:
    snapshot = bookinfo_snapshot(
        networking(istio_reference, "destination-rule-all.yaml"),
        networking(istio_reference, "bookinfo-gateway.yaml"),
    )
    for node in [*bookinfo_sidecars(), ingress_gateway()]:
        assert build_load_assignments(snapshot, node) == build_proxy_config(snapshot, node).endpoints


def test_the_config_round_trips_through_the_codec(istio_reference: Path) -> None:
    config = build_proxy_config(
        bookinfo_snapshot(
            networking(istio_reference, "destination-rule-all-mtls.yaml"),
            networking(istio_reference, "virtual-service-reviews-test-v2.yaml"),
        ),
        PRODUCTPAGE_NODE,
    )
    assert decode(ProxyConfig, encode(config)) == config


def test_builds_are_pure() -> None:
    snapshot = bookinfo_snapshot()
    assert build_proxy_config(snapshot, PRODUCTPAGE_NODE) == build_proxy_config(snapshot, PRODUCTPAGE_NODE)
    assert build_proxy_config(snapshot, PRODUCTPAGE_NODE).version == snapshot.version
