"""PeerAuthentication precedence and AuthorizationPolicy flattening."""

from __future__ import annotations

from mesh_runtime.discovery.builder import build_proxy_config
from mesh_runtime.discovery.builder.security import authorization_policies, peer_authentication
from mesh_runtime.xds import AuthorizationPolicy, PeerAuthentication, PolicyRule
from tests.unit.discovery.snapshots import bookinfo_sidecars, bookinfo_snapshot

REVIEWS_V1 = bookinfo_sidecars()[2]
RATINGS = bookinfo_sidecars()[5]


def pa(name: str, namespace: str, spec: str) -> str:
    return f"""
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: {name}, namespace: {namespace}}}
spec: {spec}
---
"""


def mode_of(*policies: str, labels: dict[str, str] | None = None) -> PeerAuthentication:
    snap = bookinfo_snapshot(*policies)
    return peer_authentication(snap, "default", labels or {"app": "reviews", "version": "v1"})


def test_permissive_without_policies() -> None:
    assert mode_of() == PeerAuthentication("PERMISSIVE", {})


def test_mesh_namespace_workload_precedence() -> None:
    mesh = pa("default", "istio-system", "{mtls: {mode: STRICT}}")
    namespace = pa("default", "default", "{mtls: {mode: PERMISSIVE}}")
    workload = pa("reviews", "default", "{selector: {matchLabels: {app: reviews}}, mtls: {mode: DISABLE}}")
    assert mode_of(mesh).mode == "STRICT"
    assert mode_of(mesh, namespace).mode == "PERMISSIVE"
    assert mode_of(mesh, namespace, workload).mode == "DISABLE"
    assert mode_of(mesh, namespace, workload, labels={"app": "ratings"}).mode == "PERMISSIVE"


def test_unset_inherits_and_port_level_overrides() -> None:
    mesh = pa("default", "istio-system", "{mtls: {mode: STRICT}}")
    workload = pa(
        "reviews",
        "default",
        "{selector: {matchLabels: {app: reviews}}, mtls: {mode: UNSET}, "
        "portLevelMtls: {19082: {mode: DISABLE}, 8000: {mode: UNSET}}}",
    )
    assert mode_of(mesh, workload) == PeerAuthentication("STRICT", {19082: "DISABLE", 8000: "STRICT"})


def test_the_oldest_namespace_policy_wins() -> None:
    first = pa("a", "default", "{mtls: {mode: STRICT}}")
    second = pa("b", "default", "{mtls: {mode: DISABLE}}")
    assert mode_of(first, second).mode == "STRICT"


def test_inbound_listener_carries_its_ports_mode_and_disable_turns_off_auto_mtls() -> None:
    workload = pa(
        "reviews",
        "default",
        "{selector: {matchLabels: {app: reviews, version: v1}}, mtls: {mode: STRICT}, "
        "portLevelMtls: {19082: {mode: DISABLE}}}",
    )
    snap = bookinfo_snapshot(workload)
    (inbound,) = [
        listener
        for listener in build_proxy_config(snap, REVIEWS_V1).listeners
        if listener.direction == "inbound"
    ]
    assert inbound.peer_authentication.mode == "DISABLE"
    endpoints = {
        e.workload: e.has_sidecar
        for a in build_proxy_config(snap, bookinfo_sidecars()[0]).endpoints
        if a.cluster == "outbound|9080||reviews.default.svc.cluster.local"
        for e in a.endpoints
    }
    assert endpoints == {"reviews-v1": False, "reviews-v2": True, "reviews-v3": True}


def ap(name: str, namespace: str, spec: str, annotations: str = "{}") -> str:
    return f"""
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: {name}, namespace: {namespace}, annotations: {annotations}}}
spec: {spec}
---
"""


def test_authorization_policies_selecting_the_workload_are_flattened() -> None:
    snap = bookinfo_snapshot(
        ap(
            "ratings-viewer",
            "default",
            """
  selector: {matchLabels: {app: ratings}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/default/sa/bookinfo-reviews"]}
    - source: {namespaces: [frontend], notIpBlocks: [10.0.0.0/8], serviceAccounts: [default/x]}
    to:
    - operation: {methods: [GET], paths: ["/ratings/*"], ports: ["9080"]}
    when:
    - {key: "request.headers[x-token]", values: ["a"], notValues: ["b"]}
  - {}
""",
        ),
        ap("deny-all", "istio-system", "{action: DENY, rules: [{to: [{operation: {notMethods: [GET]}}]}]}"),
        ap("other", "default", "{selector: {matchLabels: {app: reviews}}}"),
        ap("dry", "default", "{action: DENY}", annotations='{"istio.io/dry-run": "true"}'),
        ap("ext", "default", "{action: CUSTOM, provider: {name: opa}, rules: [{}]}"),
    )
    policies = authorization_policies(snap, "default", RATINGS.labels)
    when = (("request.headers[x-token]", ("a",), ("b",)),)
    operation = {"methods": ("GET",), "paths": ("/ratings/*",), "ports": (9080,)}
    assert policies == (
        AuthorizationPolicy(
            "default/ratings-viewer",
            "ALLOW",
            (
                (
                    PolicyRule(
                        principals=("cluster.local/ns/default/sa/bookinfo-reviews",),
                        conditions=when,
                        **operation,
                    ),
                    PolicyRule(
                        namespaces=("frontend",),
                        not_ip_blocks=("10.0.0.0/8",),
                        conditions=when + (("source.principal", ("*/ns/default/sa/x",), ()),),
                        **operation,
                    ),
                ),
                (PolicyRule(),),
            ),
        ),
        AuthorizationPolicy("istio-system/deny-all", "DENY", ((PolicyRule(not_methods=("GET",)),),)),
    )
    assert build_proxy_config(snap, RATINGS).authorization == policies


def test_an_allow_policy_without_rules_allows_nothing() -> None:
    snap = bookinfo_snapshot(ap("allow-nothing", "default", "{}"))
    assert authorization_policies(snap, "default", {}) == (
        AuthorizationPolicy("default/allow-nothing", "ALLOW", ()),
    )
