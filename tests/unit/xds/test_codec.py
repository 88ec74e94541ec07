from __future__ import annotations

import json

import pytest

from mesh_runtime.xds import (
    AuthorizationPolicy,
    Cluster,
    ClusterLoadAssignment,
    CorsPolicy,
    DecodeError,
    Endpoint,
    FaultDelay,
    HeaderMatch,
    Listener,
    Node,
    PeerAuthentication,
    PolicyRule,
    ProxyConfig,
    Route,
    RouteConfiguration,
    RouteMatch,
    StringMatch,
    TlsSettings,
    VirtualHost,
    WeightedCluster,
    cluster_name,
    decode,
    encode,
)

REVIEWS_V2 = cluster_name("outbound", 9080, "v2", "reviews.default.svc.cluster.local")


def sample_config() -> ProxyConfig:
    node = Node(
        id="productpage-v1.default",
        type="sidecar",
        namespace="default",
        workload="productpage-v1",
        service_account="bookinfo-productpage",
        labels={"app": "productpage", "version": "v1"},
        app_ports=(9080,),
    )
    jason = RouteMatch(headers=(HeaderMatch("end-user", StringMatch("exact", "jason")),))
    cors = CorsPolicy(
        allow_origins=(StringMatch("exact", "https://a.example"), StringMatch("regex", r".*\.b\.example")),
        allow_methods=("GET", "POST"),
        allow_headers=("x-a",),
        expose_headers=("x-b",),
        max_age=86400.0,
        allow_credentials=True,
        unmatched_preflights="IGNORE",
    )
    route = Route(
        matches=(jason,), clusters=(WeightedCluster(REVIEWS_V2),), fault_delay=FaultDelay(7.0), cors=cors
    )
    return ProxyConfig(
        version="42",
        node=node,
        listeners=(
            Listener(
                "virtualInbound",
                "inbound",
                "127.0.0.1",
                15006,
                app_port=9080,
                peer_authentication=PeerAuthentication("STRICT", {9080: "PERMISSIVE"}),
            ),
        ),
        route_configs=(RouteConfiguration("9080", (VirtualHost("reviews", ("reviews",), (route,)),)),),
        clusters=(
            Cluster(
                REVIEWS_V2, "reviews.default.svc.cluster.local", 9080, "v2", tls=TlsSettings("ISTIO_MUTUAL")
            ),
        ),
        endpoints=(ClusterLoadAssignment(REVIEWS_V2, (Endpoint("10.0.0.2", 15006, {"version": "v2"}),)),),
        authorization=(
            AuthorizationPolicy(
                "default/reviews-viewer",
                rules=((PolicyRule(principals=("cluster.local/ns/default/sa/bookinfo-productpage",)),),),
            ),
        ),
    )


def test_a_config_survives_a_json_round_trip() -> None:
    config = sample_config()
    assert decode(ProxyConfig, json.loads(json.dumps(encode(config)))) == config


def test_cluster_names_follow_istio() -> None:
    assert REVIEWS_V2 == "outbound|9080|v2|reviews.default.svc.cluster.local"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=3), "ProxyConfig.version: expected str, found int 3"),
        (lambda d: d["node"].update(type="router"), "ProxyConfig.node.type: 'router' is not one of"),
        (lambda d: d["listeners"][0].update(port="x"), "ProxyConfig.listeners[0].port: expected int"),
        (lambda d: d.update(extra=1), "ProxyConfig: unknown field(s) extra"),
        (lambda d: d.pop("node"), "ProxyConfig: "),
        (
            lambda d: d["route_configs"][0]["virtual_hosts"][0]["routes"][0]["cors"].update(
                unmatched_preflights="DROP"
            ),
            "ProxyConfig.route_configs[0].virtual_hosts[0].routes[0].cors.unmatched_preflights: 'DROP'",
        ),
    ],
)
def test_bad_config_names_the_field(mutate: object, message: str) -> None:
    data = encode(sample_config())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(
        DecodeError,
        match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)"),
    ):
        decode(ProxyConfig, data)


def test_a_cors_policy_from_before_unmatched_preflights_forwards_them() -> None:
    data = encode(CorsPolicy(allow_origins=(StringMatch("prefix", "https://"),)))
    del data["unmatched_preflights"]
    assert decode(CorsPolicy, data).unmatched_preflights == "FORWARD"


def test_a_node_from_before_node_name_and_stats_port_decodes_without_them() -> None:
    node = Node(
        id="ratings-v1.default",
        type="sidecar",
        namespace="default",
        workload="ratings-v1",
        service_account="bookinfo-ratings",
        node_name="node01",
        stats_port=15090,
    )
    data = encode(node)
    assert (data["node_name"], data["stats_port"]) == ("node01", 15090)
    assert decode(Node, data) == node
    del data["node_name"], data["stats_port"]
    old = decode(Node, data)
    assert (old.node_name, old.stats_port) == ("", 0)
    assert old.id == node.id and old.service_account == node.service_account
