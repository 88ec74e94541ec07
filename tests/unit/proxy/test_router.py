from __future__ import annotations

import pytest

from mesh_runtime import xds
from mesh_runtime.proxy.cluster import ClusterState
from mesh_runtime.proxy.router import (
    CompiledRoute,
    ConfigError,
    RouteTable,
    VirtualHostRoutes,
    compile_retry,
    compile_rewrite,
    compile_route,
    rewrite_path,
)


def vhost(name: str) -> VirtualHostRoutes:
    return VirtualHostRoutes(name, ())


def test_host_lookup_order_exact_suffix_prefix_default() -> None:
    table = RouteTable("t")
    for domain, name in (
        ("reviews:9080", "exact"),
        ("*.example.com", "suffix"),
        ("*.b.example.com", "longer-suffix"),
        ("api.*", "prefix"),
        ("*", "default"),
    ):
        table.add(domain, vhost(name))
    table.seal()

    def found(host: bytes) -> str:
        result = table.lookup(host)
        assert result is not None
        return result.name

    assert found(b"reviews:9080") == "exact"
    assert found(b"a.example.com") == "suffix"
    assert found(b"a.b.example.com") == "longer-suffix"
    assert found(b"api.internal") == "prefix"
    assert found(b"example.com") == "default"  # `*.example.com` needs a label before it
    assert found(b"a.example.com:8080") == "suffix"  # the port is dropped when nothing matches with it


def test_no_default_means_no_route() -> None:
    table = RouteTable("t")
    table.add("reviews", vhost("r"))
    table.seal()
    assert table.lookup(b"ratings") is None


def test_weighted_targets_follow_weights() -> None:
    route = CompiledRoute()
    route.targets = ("a", "b")  # type: ignore[assignment]
    route.cumulative = (20, 100)
    route.total_weight = 100
    assert route.pick_target(lambda: 0.0) == "a"
    assert route.pick_target(lambda: 0.199) == "a"
    assert route.pick_target(lambda: 0.2) == "b"
    assert route.pick_target(lambda: 0.999) == "b"


def test_istio_default_retry_policy() -> None:
    policy = compile_retry(xds.Retry())
    assert policy is not None
    assert policy.retries == 2
    assert policy.on_connect_failure and not policy.on_reset
    assert policy.statuses == frozenset({503})
    assert (policy.backoff_base, policy.backoff_max) == (0.025, 0.25)  # Envoy's defaults
    assert compile_retry(xds.Retry(attempts=0)) is None


def test_istio_backoff_is_the_base_interval_and_a_tenth_of_the_longest_wait() -> None:
    policy = compile_retry(xds.Retry(backoff=0.2))
    assert policy is not None
    assert (policy.backoff_base, policy.backoff_max) == (0.2, 2.0)
    assert compile_retry(None) is None


@pytest.mark.parametrize(
    ("retry_on", "statuses", "reset"),
    [
        (("5xx",), frozenset(range(500, 600)), True),
        (("gateway-error",), frozenset({502, 503, 504}), True),
        (("reset", "429"), frozenset({429}), True),
        (("retriable-status-codes",), frozenset({409}), False),
    ],
)
def test_retry_on(retry_on: tuple[str, ...], statuses: frozenset[int], reset: bool) -> None:
    policy = compile_retry(xds.Retry(attempts=3, retry_on=retry_on, retriable_status_codes=(409,)))
    assert policy is not None and policy.statuses == statuses and policy.on_reset is reset


def test_rewrite_replaces_the_matched_prefix_or_whole_path() -> None:
    route = xds.Route(
        matches=(
            xds.RouteMatch(uri=xds.StringMatch("prefix", "/v1/")),
            xds.RouteMatch(uri=xds.StringMatch("exact", "/old")),
        ),
        rewrite=xds.Rewrite(uri="/api/"),
    )
    rewrite = compile_rewrite(route, "t")
    assert rewrite is not None
    assert rewrite_path(rewrite, b"/v1/a?x=1", b"/v1/a", 0) == b"/api/a?x=1"
    assert rewrite_path(rewrite, b"/old?x=1", b"/old", 1) == b"/api/?x=1"


def test_regex_rewrite() -> None:
    route = xds.Route(rewrite=xds.Rewrite(uri_regex=("^/service/([^/]+)(/.*)$", "\\2/instance/\\1")))
    rewrite = compile_rewrite(route, "t")
    assert rewrite is not None
    assert (
        rewrite_path(rewrite, b"/service/foo/v1/api?q", b"/service/foo/v1/api", 0)
        == b"/v1/api/instance/foo?q"
    )


CLUSTERS: dict[str, ClusterState] = {}  # no cluster state: a route's cluster is looked up and not found
NODE = xds.Node(id="p.default", type="sidecar", namespace="default", workload="p", service_account="p")


def test_a_route_without_cors_stays_on_the_fast_path() -> None:
    route = compile_route(xds.Route(clusters=(xds.WeightedCluster("c"),)), "r", CLUSTERS, NODE)
    assert route is not None and route.cors is None and not route.slow


def test_a_cors_policy_is_compiled_once_and_puts_the_route_on_the_slow_path() -> None:
    cors = xds.CorsPolicy(allow_origins=(xds.StringMatch("exact", "https://a.example"),))
    route = compile_route(xds.Route(clusters=(xds.WeightedCluster("c"),), cors=cors), "r", CLUSTERS, NODE)
    assert route is not None and route.slow
    assert route.cors is not None and route.cors.origin_allowed(b"https://a.example")


def test_a_cors_origin_regex_re2_rejects_is_a_config_error_naming_the_route() -> None:
    cors = xds.CorsPolicy(allow_origins=(xds.StringMatch("regex", "(?<=a)b"),))
    with pytest.raises(ConfigError, match=r"vh\.routes\[2\]\.cors\.allow_origins\[0\]"):
        compile_route(
            xds.Route(clusters=(xds.WeightedCluster("c"),), cors=cors), "vh.routes[2]", CLUSTERS, NODE
        )
