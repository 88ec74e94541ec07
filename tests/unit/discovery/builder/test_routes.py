"""Every HTTPRoute feature the contract carries, translated from a VirtualService."""

from __future__ import annotations

from mesh_runtime.discovery.builder import build_proxy_config
from mesh_runtime.xds import (
    CorsPolicy,
    DirectResponse,
    HeaderMatch,
    HeaderOperations,
    Mirror,
    ProxyConfig,
    Redirect,
    Retry,
    Rewrite,
    Route,
    StringMatch,
    WeightedCluster,
)
from tests.unit.discovery.snapshots import bookinfo_sidecars, bookinfo_snapshot

REVIEWS = "reviews.default.svc.cluster.local"
PRODUCTPAGE = bookinfo_sidecars()[0]


def reviews_routes(spec_http: str, node=PRODUCTPAGE) -> tuple[Route, ...]:  # type: ignore[no-untyped-def]
    text = f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews}}
spec:
  hosts: [reviews]
  http:
{spec_http}
"""
    config: ProxyConfig = build_proxy_config(bookinfo_snapshot(text), node)
    routes = next(rc for rc in config.route_configs if rc.name == "9080")
    return next(v for v in routes.virtual_hosts if v.name == f"{REVIEWS}:9080").routes


def test_retries_timeouts_and_their_defaults() -> None:
    explicit, off, codes = reviews_routes(
        """
  - match: [{uri: {prefix: /a}}]
    timeout: 1.5s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "gateway-error,connect-failure"}
    route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /b}}]
    timeout: 0s
    retries: {attempts: 0}
    route: [{destination: {host: reviews}}]
  - retries: {attempts: 1, retryOn: "503,reset", backoff: 100ms}
    route: [{destination: {host: reviews}}]
"""
    )
    assert explicit.timeout == 1.5
    assert explicit.retry == Retry(3, 0.5, ("gateway-error", "connect-failure"), ())
    assert off.timeout is None and off.retry is None
    assert codes.retry == Retry(1, None, ("reset", "retriable-status-codes"), (503,), backoff=0.1)
    assert codes.timeout is None


def test_match_conditions() -> None:
    (route,) = reviews_routes(
        """
  - name: matched
    match:
    - name: first
      uri: {regex: "/r/[0-9]+"}
      ignoreUriCase: true
      method: {exact: GET}
      authority: {prefix: reviews}
      scheme: {exact: http}
      headers: {X-Version: {prefix: v}, x-present: {}}
      withoutHeaders: {x-debug: {exact: "1"}}
      queryParams: {Debug: {exact: "yes"}}
    - uri: {exact: /health}
    route: [{destination: {host: reviews}}]
"""
    )
    first, second = route.matches
    assert route.name == "matched"
    assert first.name == "first"
    assert first.uri == StringMatch("regex", "/r/[0-9]+", ignore_case=True)
    assert first.method == StringMatch("exact", "GET") and first.scheme == StringMatch("exact", "http")
    assert first.authority == StringMatch("prefix", "reviews")
    assert first.headers == (
        HeaderMatch("x-version", StringMatch("prefix", "v")),
        HeaderMatch("x-present", StringMatch("present")),
        HeaderMatch("x-debug", StringMatch("exact", "1"), invert=True),
    )
    assert first.query_params == (HeaderMatch("Debug", StringMatch("exact", "yes")),)
    assert second.uri == StringMatch("exact", "/health")


def test_proxy_dependent_matches_are_decided_for_the_proxy() -> None:
    http = """
  - match: [{sourceLabels: {app: productpage}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{sourceNamespace: other}]
    route: [{destination: {host: reviews, subset: v3}}]
  - match: [{port: 9999}]
    route: [{destination: {host: reviews, subset: v3}}]
  - match: [{gateways: [some-gateway]}]
    route: [{destination: {host: reviews, subset: v3}}]
  - route: [{destination: {host: reviews, subset: v1}}]
"""
    from_productpage = reviews_routes(http)
    assert [r.clusters[0].cluster for r in from_productpage] == [
        f"outbound|9080|v2|{REVIEWS}",
        f"outbound|9080|v1|{REVIEWS}",
    ]
    assert from_productpage[0].matches[0].source_labels == {"app": "productpage"}
    from_reviews = reviews_routes(http, bookinfo_sidecars()[2])
    assert [r.clusters[0].cluster for r in from_reviews] == [f"outbound|9080|v1|{REVIEWS}"]


def test_actions_mirrors_rewrites_headers_and_cors() -> None:
    redirect, direct, rewritten = reviews_routes(
        """
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: example.com, port: 8443, scheme: https, redirectCode: 308}
  - match: [{uri: {prefix: /teapot}}]
    directResponse: {status: 418, body: {bytes: "SSdtIGEgdGVhcG90"}}
  - rewrite: {uri: /v2, authority: reviews-v2, uriRegexRewrite: {match: "^/a(.*)", rewrite: "/b\\\\1"}}
    mirror: {host: ratings, subset: v1}
    mirrorPercentage: {value: 25.5}
    mirrors: [{destination: {host: details}, percentage: {value: 5}}]
    headers:
      request: {set: {x-a: "1"}, add: {x-b: "2"}, remove: [x-c]}
      response: {remove: [server]}
    corsPolicy:
      allowOrigins: [{exact: "https://a.example"}, {regex: ".*b.example"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-a]
      exposeHeaders: [x-b]
      maxAge: 24h
      allowCredentials: true
    route:
    - destination: {host: reviews, subset: v1}
      weight: 90
      headers: {request: {set: {x-subset: v1}}}
    - destination: {host: reviews, subset: v2}
      weight: 10
"""
    )
    assert (
        redirect.redirect == Redirect("/new", "example.com", 8443, "https", 308) and redirect.clusters == ()
    )
    assert direct.direct_response == DirectResponse(418, "I'm a teapot")
    assert rewritten.rewrite == Rewrite("/v2", "reviews-v2", ("^/a(.*)", "/b\\1"))
    assert rewritten.mirrors == (
        Mirror("outbound|9080|v1|ratings.default.svc.cluster.local", 25.5),
        Mirror("outbound|9080||details.default.svc.cluster.local", 5.0),
    )
    assert rewritten.request_headers == HeaderOperations({"x-a": "1"}, {"x-b": "2"}, ("x-c",))
    assert rewritten.response_headers == HeaderOperations(remove=("server",))
    assert rewritten.cors == CorsPolicy(
        (StringMatch("exact", "https://a.example"), StringMatch("regex", ".*b.example")),
        ("GET", "POST"),
        ("x-a",),
        ("x-b",),
        86400.0,
        True,
    )
    assert rewritten.clusters == (
        WeightedCluster(f"outbound|9080|v1|{REVIEWS}", 90, HeaderOperations({"x-subset": "v1"})),
        WeightedCluster(f"outbound|9080|v2|{REVIEWS}", 10),
    )


def test_cors_origins_precedence_and_unmatched_preflights() -> None:
    both, legacy, ignored, forward = reviews_routes(
        """
  - match: [{uri: {prefix: /both}}]
    corsPolicy:
      allowOrigin: ["https://old.example"]
      allowOrigins: [{prefix: "https://new."}]
      unmatchedPreflights: IGNORE
    route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /legacy}}]
    corsPolicy: {allowOrigin: ["https://old.example"], maxAge: 1500ms, unmatchedPreflights: FORWARD}
    route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /empty}}]
    corsPolicy: {allowOrigins: [{}], allowOrigin: ["https://old.example"], unmatchedPreflights: IGNORE}
    route: [{destination: {host: reviews}}]
  - corsPolicy: {allowOrigins: [{exact: "*"}], unmatchedPreflights: UNSPECIFIED}
    route: [{destination: {host: reviews}}]
"""
    )
    # Istio: allowOrigins when set, else the deprecated allowOrigin as exact matches.
    assert both.cors == CorsPolicy((StringMatch("prefix", "https://new."),), unmatched_preflights="IGNORE")
    assert legacy.cors == CorsPolicy((StringMatch("exact", "https://old.example"),), max_age=1.5)
    assert ignored.cors == CorsPolicy((), unmatched_preflights="IGNORE")  # an empty match allows nothing
    assert forward.cors == CorsPolicy((StringMatch("exact", "*"),), unmatched_preflights="FORWARD")


def test_a_route_without_cors_policy_has_none() -> None:
    (route,) = reviews_routes("  - route: [{destination: {host: reviews}}]")
    assert route.cors is None


def test_a_virtual_service_whose_routes_all_miss_this_port_falls_back_to_the_default() -> None:
    (route,) = reviews_routes(
        """
  - match: [{port: 1234}]
    route: [{destination: {host: reviews, subset: v2}}]
"""
    )
    assert route.name == "default" and route.clusters == (WeightedCluster(f"outbound|9080||{REVIEWS}", 100),)


def test_destination_without_a_port_on_a_multi_port_service_uses_the_routed_port() -> None:
    text = """
apiVersion: v1
kind: Service
metadata: {name: multi}
spec:
  selector: {app: multi}
  ports: [{name: http, port: 80}, {name: http-admin, port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: multi}
spec:
  hosts: [multi]
  http: [{route: [{destination: {host: multi}}]}]
"""
    config = build_proxy_config(bookinfo_snapshot(text), PRODUCTPAGE)
    clusters = {
        rc.name: v.routes[0].clusters[0].cluster
        for rc in config.route_configs
        for v in rc.virtual_hosts
        if v.name.startswith("multi.")
    }
    assert clusters == {
        "80": "outbound|80||multi.default.svc.cluster.local",
        "8080": "outbound|8080||multi.default.svc.cluster.local",
    }
