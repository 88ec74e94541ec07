"""Clusters: one per service port, and one per DestinationRule subset, shaped by the rule's traffic policy.

DestinationRule lookup follows Istio: rules visible to the proxy's namespace; one in the proxy's own
namespace first, then the service's, then the root namespace; within those, an exact host before the most
specific wildcard, and the oldest rule on a tie. A subset's traffic policy replaces the fields it sets;
`portLevelSettings` for the port replace the fields they set at each level.

TLS: a rule's `tls` is used as written. Without one, in-mesh services get ISTIO_MUTUAL (Istio's automatic
mutual TLS): the proxy speaks mTLS to each endpoint that has a sidecar (`Endpoint.has_sidecar`) and
plaintext to the others. Services outside the mesh (ServiceEntry MESH_EXTERNAL) get plaintext.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...resources import Resource
from ...resources import fields as f
from ...resources import kinds as k
from ...resources.hosts import subset_of
from ...xds import (
    Cluster,
    ConnectionPool,
    LoadBalancer,
    Node,
    OutlierDetection,
    TlsSettings,
    cluster_name,
)
from .. import spec_values
from ..registry import ServicePort
from ..snapshot import MeshService, Snapshot, export_set, exported_to

POLICY_FIELDS = ("loadBalancer", "connectionPool", "outlierDetection", "tls")
PASSTHROUGH_CLUSTER = "PassthroughCluster"
BLACKHOLE_CLUSTER = "BlackHoleCluster"
_LB_POLICIES = {
    "ROUND_ROBIN": "ROUND_ROBIN",
    "RANDOM": "RANDOM",
    "PASSTHROUGH": "PASSTHROUGH",
    "LEAST_REQUEST": "LEAST_REQUEST",
    "LEAST_CONN": "LEAST_REQUEST",  # deprecated alias
    "UNSPECIFIED": "LEAST_REQUEST",  # Istio's default algorithm
}
_TLS_MODES = ("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")


def destination_rule_for(snapshot: Snapshot, node: Node, hostname: str) -> Resource | None:
    """The DestinationRule that applies to `hostname` for this proxy, or None."""
    service = snapshot.service(hostname)
    namespaces = [node.namespace]
    if service is not None and service.namespace not in namespaces:
        namespaces.append(service.namespace)
    if snapshot.settings.root_namespace not in namespaces:
        namespaces.append(snapshot.settings.root_namespace)
    candidates = [r for r in snapshot.of_kind(k.DESTINATION_RULE) if _applies(r, node, snapshot, hostname)]
    for namespace in namespaces:
        found = _most_specific((r for r in candidates if r.namespace == namespace), hostname, snapshot)
        if found is not None:
            return found
    return _most_specific(candidates, hostname, snapshot)


def _applies(rule: Resource, node: Node, snapshot: Snapshot, hostname: str) -> bool:
    spec = rule.spec
    if not exported_to(export_set(f.strings(spec.get("exportTo")), rule.namespace), node.namespace):
        return False
    selector = f.string_map(f.mapping(spec.get("workloadSelector")).get("matchLabels"))
    if selector and (rule.namespace != node.namespace or not f.labels_match(selector, node.labels)):
        return False
    host = f.text(spec.get("host"))
    return bool(host) and subset_of(hostname, snapshot.fqdn(host, rule.namespace))


def _most_specific(rules: Iterable[Resource], hostname: str, snapshot: Snapshot) -> Resource | None:
    """The exact-host rule, else the longest wildcard; rules with a workload selector before those without."""
    best: Resource | None = None
    best_key: tuple[int, int, int] | None = None
    for rule in rules:
        host = snapshot.fqdn(f.text(rule.spec.get("host")), rule.namespace)
        has_selector = bool(f.mapping(rule.spec.get("workloadSelector")))
        key = (int(has_selector), int(host == hostname), len(host))
        if best_key is None or key > best_key:  # rules come oldest first: the oldest wins a tie
            best, best_key = rule, key
    return best


def merged_policy(rule: Resource | None, subset: Mapping[str, Any] | None, port: int) -> dict[str, Any]:
    """The traffic policy for one port of one subset: DR level, its port level, subset, its port level."""
    merged: dict[str, Any] = {}
    levels = [f.mapping(rule.spec.get("trafficPolicy")) if rule else {}]
    if subset is not None:
        levels.append(f.mapping(subset.get("trafficPolicy")))
    for policy in levels:
        for name in POLICY_FIELDS:
            if name in policy:
                merged[name] = policy[name]
        for settings in f.mappings(policy.get("portLevelSettings")):
            if f.integer(f.mapping(settings.get("port")).get("number")) == port:
                for name in POLICY_FIELDS:
                    if name in settings:
                        merged[name] = settings[name]
    return merged


def subsets(rule: Resource | None) -> list[Mapping[str, Any]]:
    if rule is None:
        return []
    return [s for s in f.mappings(rule.spec.get("subsets")) if f.text(s.get("name"))]


def service_clusters(service: MeshService, rule: Resource | None) -> list[Cluster]:
    """The clusters of a service: one per port, then one per port and subset."""
    clusters: list[Cluster] = []
    for port in service.ports:
        clusters.append(build_cluster(service, port, rule, None))
        for subset in subsets(rule):
            clusters.append(build_cluster(service, port, rule, subset))
    return clusters


def build_cluster(
    service: MeshService, port: ServicePort, rule: Resource | None, subset: Mapping[str, Any] | None
) -> Cluster:
    subset_name = f.text(subset.get("name")) if subset is not None else ""
    policy = merged_policy(rule, subset, port.port)
    return Cluster(
        name=cluster_name("outbound", port.port, subset_name, service.hostname),
        service=service.hostname,
        port=port.port,
        subset=subset_name,
        direction="outbound",
        load_balancer=load_balancer(f.mapping(policy.get("loadBalancer")), service),
        tls=tls_settings(policy.get("tls"), service),
        connection_pool=connection_pool(f.mapping(policy.get("connectionPool"))),
        outlier_detection=outlier_detection(policy.get("outlierDetection")),
        origin=rule.full_name if rule is not None else "",
    )


def inbound_cluster(app_port: int) -> Cluster:
    return Cluster(name=cluster_name("inbound", app_port, "", ""), port=app_port, direction="inbound")


def load_balancer(spec: Mapping[str, Any], service: MeshService) -> LoadBalancer:
    consistent = f.mapping(spec.get("consistentHash"))
    if consistent:
        return LoadBalancer(
            policy="CONSISTENT_HASH",
            hash_header=f.text(consistent.get("httpHeaderName")),
            hash_cookie=f.text(f.mapping(consistent.get("httpCookie")).get("name")),
            hash_source_ip=f.boolean(consistent.get("useSourceIp")) is True,
            hash_query_parameter=f.text(consistent.get("httpQueryParameterName")),
        )
    simple = _LB_POLICIES.get(f.text(spec.get("simple")))
    if simple is None:
        # ServiceEntry hosts resolved by the original destination have nothing to balance.
        simple = (
            "PASSTHROUGH"
            if service.resolution == "NONE" and not service.static_endpoints
            else "LEAST_REQUEST"
        )
    return LoadBalancer(policy=simple)  # type: ignore[arg-type]


def tls_settings(value: Any, service: MeshService) -> TlsSettings:
    spec = f.mapping(value)
    mode = f.text(spec.get("mode"))
    if mode not in _TLS_MODES:
        # Automatic mutual TLS inside the mesh; plaintext to the outside.
        return TlsSettings(mode="DISABLE" if service.mesh_external else "ISTIO_MUTUAL")
    return TlsSettings(
        mode=mode,  # type: ignore[arg-type]
        sni=f.text(spec.get("sni")),
        subject_alt_names=f.strings(spec.get("subjectAltNames")),
        ca_certificates=f.text(spec.get("caCertificates")),
        client_certificate=f.text(spec.get("clientCertificate")),
        private_key=f.text(spec.get("privateKey")),
        insecure_skip_verify=f.boolean(spec.get("insecureSkipVerify")) is True,
    )


def connection_pool(spec: Mapping[str, Any]) -> ConnectionPool:
    tcp = f.mapping(spec.get("tcp"))
    http = f.mapping(spec.get("http"))
    connect_timeout = spec_values.seconds(tcp.get("connectTimeout"))
    idle = spec_values.seconds(http.get("idleTimeout"))
    if idle is None:
        idle = spec_values.seconds(tcp.get("idleTimeout"))
    return ConnectionPool(
        max_connections=f.integer(tcp.get("maxConnections")),
        max_pending_requests=f.integer(http.get("http1MaxPendingRequests")),
        max_requests_per_connection=f.integer(http.get("maxRequestsPerConnection")) or None,
        max_retries=f.integer(http.get("maxRetries")),
        connect_timeout=connect_timeout if connect_timeout else 10.0,
        idle_timeout=idle,
    )


def outlier_detection(value: Any) -> OutlierDetection | None:
    if not isinstance(value, Mapping):
        return None
    errors_5xx = f.integer(value.get("consecutive5xxErrors"))
    gateway_errors = f.integer(value.get("consecutiveGatewayErrors"))
    legacy = f.integer(value.get("consecutiveErrors"))
    if errors_5xx is None and gateway_errors is None and legacy is not None:
        gateway_errors = legacy  # Istio maps the deprecated field onto gateway errors (502/503/504)
        errors_5xx = 0
    if errors_5xx is None:
        errors_5xx = 5
    interval = spec_values.seconds(value.get("interval"))
    base = spec_values.seconds(value.get("baseEjectionTime"))
    max_percent = f.integer(value.get("maxEjectionPercent"))
    min_health = f.integer(value.get("minHealthPercent"))
    return OutlierDetection(
        consecutive_5xx_errors=errors_5xx or None,
        consecutive_gateway_errors=gateway_errors or None,
        interval=interval if interval else 10.0,
        base_ejection_time=base if base else 30.0,
        max_ejection_percent=10 if max_percent is None else max_percent,
        min_health_percent=0 if min_health is None else min_health,
    )


def passthrough_cluster() -> Cluster:
    return Cluster(name=PASSTHROUGH_CLUSTER, load_balancer=LoadBalancer(policy="PASSTHROUGH"))


def blackhole_cluster() -> Cluster:
    return Cluster(name=BLACKHOLE_CLUSTER)
