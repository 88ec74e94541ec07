"""Per-proxy config, modelled on Envoy's: listeners → route configurations → clusters → endpoints.

Durations are seconds (float); `None` means "not set" (the proxy applies Istio's default). Names follow
Envoy and Istio: clusters are `outbound|<port>|<subset>|<fqdn>` and `inbound|<port>||`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# ---------------------------------------------------------------------------------------------- identity


@dataclass(frozen=True, slots=True)
class Node:
    """Who a proxy is: what it tells the control plane when it connects (Envoy's Node)."""

    #: `<workload>.<namespace>` as istioctl proxy-status shows it (e.g. `productpage-v1.default`).
    id: str
    type: Literal["sidecar", "gateway"]
    namespace: str
    workload: str
    service_account: str
    labels: dict[str, str] = field(default_factory=dict)
    #: Address other proxies reach this one on (the sidecar's inbound listener, or the gateway).
    address: str = "127.0.0.1"
    #: Port of the inbound mTLS listener (sidecar), or of the gateway's first server.
    inbound_port: int = 0
    #: Loopback port the application listens on (sidecar only): inbound traffic is forwarded there.
    app_ports: tuple[int, ...] = ()
    #: Loopback address of the outbound HTTP proxy the app uses (HTTP_PROXY).
    outbound_port: int = 0
    admin_port: int = 0
    proxy_version: str = ""
    #: Services this workload implements (`reviews.default.svc.cluster.local`), when known.
    services: tuple[str, ...] = ()
    #: The host the proxy runs on, as Kubernetes' `spec.nodeName` (Istio's NODE_NAME); "" from a proxy that
    #: does not say (older ones).
    node_name: str = ""
    #: Port of the Prometheus stats listener on `address` (Istio's 15090); 0: none, stats on admin only.
    stats_port: int = 0


# ---------------------------------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class StringMatch:
    """Istio's StringMatch: `exact`, `prefix` or `regex` (RE2, whole string); `present`: any value."""

    kind: Literal["exact", "prefix", "regex", "present"]
    value: str = ""
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    name: str  # lower case
    match: StringMatch
    invert: bool = False  # Istio's withoutHeaders


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """One HTTPMatchRequest: every condition must hold. A route matches when any of its matches does."""

    name: str = ""
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: tuple[HeaderMatch, ...] = ()
    query_params: tuple[HeaderMatch, ...] = ()
    port: int | None = None
    source_labels: dict[str, str] = field(default_factory=dict)
    source_namespace: str = ""


# ---------------------------------------------------------------------------------------------- routes


@dataclass(frozen=True, slots=True)
class HeaderOperations:
    set: dict[str, str] = field(default_factory=dict)
    add: dict[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WeightedCluster:
    cluster: str
    weight: int = 100
    request_headers: HeaderOperations | None = None
    response_headers: HeaderOperations | None = None


#: Istio's implicit retry policy for a route without `retries` (pilot's retry.DefaultPolicy): what it
#: retries on, and the statuses `retriable-status-codes` means.
DEFAULT_RETRY_ON = ("connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes")
DEFAULT_RETRIABLE_STATUS_CODES = (503,)


@dataclass(frozen=True, slots=True)
class Retry:
    """Defaults are Istio's implicit policy for a route without `retries` (pilot's retry.DefaultPolicy):
    2 retries on connect-failure, refused-stream, unavailable, cancelled and status 503."""

    attempts: int = 2
    per_try_timeout: float | None = None
    #: Envoy retry policies and/or status codes: `connect-failure`, `refused-stream`, `503`, …
    retry_on: tuple[str, ...] = DEFAULT_RETRY_ON
    retriable_status_codes: tuple[int, ...] = DEFAULT_RETRIABLE_STATUS_CODES
    #: Istio's `backoff`: the base interval of Envoy's jittered exponential back-off between tries, seconds
    #: (None: Envoy's 25 ms). The longest wait is ten times the base, as in Envoy.
    backoff: float | None = None


@dataclass(frozen=True, slots=True)
class FaultDelay:
    delay: float
    percentage: float = 100.0


@dataclass(frozen=True, slots=True)
class FaultAbort:
    http_status: int
    percentage: float = 100.0


@dataclass(frozen=True, slots=True)
class Mirror:
    cluster: str
    percentage: float = 100.0


@dataclass(frozen=True, slots=True)
class Redirect:
    uri: str = ""
    authority: str = ""
    port: int | None = None
    scheme: str = ""
    response_code: int = 301


@dataclass(frozen=True, slots=True)
class DirectResponse:
    status: int
    body: str = ""


@dataclass(frozen=True, slots=True)
class Rewrite:
    uri: str | None = None
    authority: str | None = None
    #: Istio's uriRegexRewrite: (RE2 pattern, substitution)
    uri_regex: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Istio's CorsPolicy, as Envoy's CORS filter applies it to a route. `max_age` is seconds;
    `unmatched_preflights`: what happens to a preflight whose origin is not allowed (FORWARD: sent upstream
    as any request; IGNORE: answered locally without Access-Control-Allow-Origin)."""

    allow_origins: tuple[StringMatch, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: float | None = None
    allow_credentials: bool | None = None
    unmatched_preflights: Literal["FORWARD", "IGNORE"] = "FORWARD"


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route. Exactly one action: `clusters` (weighted), `redirect` or `direct_response`."""

    name: str = ""
    matches: tuple[RouteMatch, ...] = ()  # empty: matches every request
    clusters: tuple[WeightedCluster, ...] = ()
    redirect: Redirect | None = None
    direct_response: DirectResponse | None = None
    rewrite: Rewrite | None = None
    timeout: float | None = None
    retry: Retry | None = field(default_factory=Retry)
    fault_delay: FaultDelay | None = None
    fault_abort: FaultAbort | None = None
    mirrors: tuple[Mirror, ...] = ()
    cors: CorsPolicy | None = None
    request_headers: HeaderOperations | None = None
    response_headers: HeaderOperations | None = None
    #: The VirtualService this route came from (`ns/name`), for config dumps and telemetry.
    origin: str = ""


@dataclass(frozen=True, slots=True)
class VirtualHost:
    name: str
    #: Host names this virtual host answers for, with and without port (`reviews`, `reviews:9080`, FQDNs…).
    domains: tuple[str, ...]
    routes: tuple[Route, ...]


@dataclass(frozen=True, slots=True)
class RouteConfiguration:
    #: Outbound: the port (`9080`); gateway: `http.<port>`.
    name: str
    virtual_hosts: tuple[VirtualHost, ...]


# ---------------------------------------------------------------------------------------------- clusters


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Client-side TLS of a cluster (a DestinationRule's tls, or automatic mTLS)."""

    mode: Literal["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] = "DISABLE"
    sni: str = ""
    #: SPIFFE identities (ISTIO_MUTUAL) or DNS names the server's certificate must carry.
    subject_alt_names: tuple[str, ...] = ()
    ca_certificates: str = ""  # a path, for SIMPLE/MUTUAL
    client_certificate: str = ""
    private_key: str = ""
    insecure_skip_verify: bool = False


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    policy: Literal["LEAST_REQUEST", "ROUND_ROBIN", "RANDOM", "PASSTHROUGH", "CONSISTENT_HASH"] = (
        "LEAST_REQUEST"
    )
    hash_header: str = ""
    hash_cookie: str = ""
    hash_source_ip: bool = False
    hash_query_parameter: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionPool:
    max_connections: int | None = None
    max_pending_requests: int | None = None
    max_requests_per_connection: int | None = None
    max_retries: int | None = None
    connect_timeout: float = 10.0
    idle_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class OutlierDetection:
    consecutive_5xx_errors: int | None = 5
    consecutive_gateway_errors: int | None = None
    interval: float = 10.0
    base_ejection_time: float = 30.0
    max_ejection_percent: int = 10
    min_health_percent: int = 0


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    #: The service host (`reviews.default.svc.cluster.local`), or "" for inbound clusters.
    service: str = ""
    port: int = 0
    subset: str = ""
    direction: Literal["outbound", "inbound"] = "outbound"
    load_balancer: LoadBalancer = field(default_factory=LoadBalancer)
    tls: TlsSettings = field(default_factory=TlsSettings)
    connection_pool: ConnectionPool = field(default_factory=ConnectionPool)
    outlier_detection: OutlierDetection | None = None
    #: The DestinationRule that shaped this cluster (`ns/name`), for config dumps.
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    port: int
    #: The workload's labels (subset selection is done by the control plane; kept for telemetry).
    labels: dict[str, str] = field(default_factory=dict)
    #: The workload's SPIFFE identity; with a sidecar the endpoint speaks mTLS.
    identity: str = ""
    has_sidecar: bool = True
    healthy: bool = True
    weight: int = 1
    workload: str = ""
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class ClusterLoadAssignment:
    cluster: str
    endpoints: tuple[Endpoint, ...]


# ---------------------------------------------------------------------------------------------- security


@dataclass(frozen=True, slots=True)
class PeerAuthentication:
    """The effective mTLS mode of an inbound listener, with per-port overrides."""

    mode: Literal["STRICT", "PERMISSIVE", "DISABLE"] = "PERMISSIVE"
    port_modes: dict[int, Literal["STRICT", "PERMISSIVE", "DISABLE"]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One AuthorizationPolicy rule, already flattened: every non-empty field must match (AND);
    `not_*` fields must not. Values keep Istio's syntax (prefix/suffix `*`, CIDRs)."""

    principals: tuple[str, ...] = ()
    not_principals: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    not_namespaces: tuple[str, ...] = ()
    ip_blocks: tuple[str, ...] = ()
    not_ip_blocks: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    not_hosts: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    not_methods: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    not_paths: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    not_ports: tuple[int, ...] = ()
    #: `when` conditions: (key, values, not_values), e.g. ("request.headers[x-token]", ("a",), ()).
    conditions: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class AuthorizationPolicy:
    name: str  # ns/name
    action: Literal["ALLOW", "DENY", "AUDIT"] = "ALLOW"
    #: No rules: ALLOW matches nothing, DENY matches nothing; one empty rule matches everything.
    rules: tuple[tuple[PolicyRule, ...], ...] = ()


# ---------------------------------------------------------------------------------------------- listeners


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    direction: Literal["outbound", "inbound", "gateway"]
    address: str
    port: int
    #: The RouteConfiguration serving this listener (outbound and gateway listeners).
    route_config: str = ""
    #: Inbound only: where the app listens (loopback).
    app_port: int = 0
    peer_authentication: PeerAuthentication = field(default_factory=PeerAuthentication)
    #: Gateway only: server TLS (`SIMPLE`/`MUTUAL` with credential paths) or DISABLE.
    tls: TlsSettings = field(default_factory=TlsSettings)


@dataclass(frozen=True, slots=True)
class Telemetry:
    metrics: bool = True
    access_log: bool = True
    #: Percentage of requests traced (Istio's default sampling is 1 %).
    trace_sampling: float = 1.0
    #: Zipkin v2 collector address (`host:port`), "" for none.
    zipkin_address: str = ""


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Everything one proxy needs, as of `version` (Envoy's version_info)."""

    version: str
    node: Node
    listeners: tuple[Listener, ...] = ()
    route_configs: tuple[RouteConfiguration, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    endpoints: tuple[ClusterLoadAssignment, ...] = ()
    authorization: tuple[AuthorizationPolicy, ...] = ()
    telemetry: Telemetry = field(default_factory=Telemetry)
    trust_domain: str = "cluster.local"


def cluster_name(direction: str, port: int, subset: str, host: str) -> str:
    """Envoy/Istio cluster naming: `outbound|9080|v1|reviews.default.svc.cluster.local`."""
    return f"{direction}|{port}|{subset}|{host}"
