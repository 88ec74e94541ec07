"""DestinationRule (networking.istio.io): schema, traffic policies (also used by Sidecar), subsets."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..resources.fields import indexed_strings, mapping, sequence, text
from . import formats
from .common import (
    ANY_DURATION,
    BOOLEAN,
    DURATION,
    INT32,
    PORT_SELECTOR,
    STRING,
    STRINGS,
    UINT32,
    UINT64,
    WORKLOAD_SELECTOR,
    check_export_to,
    check_labels,
    is_set,
)
from .dsl import Choice, Integer, ListOf, MapOf, Node, Number, Report, Text, as_integer, record
from .findings import Path, quoted

MAGLEV_TABLE_SIZE_LIMIT = 5_000_011
TOPOLOGY_LABELS = frozenset(
    {"topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"}
)

# ---- connection pool -----------------------------------------------------------------------------


def _check_connection_pool(pool: Mapping[str, Any], path: Path, report: Report) -> None:
    if not is_set(pool, "http") and not is_set(pool, "tcp"):
        report.error(path, "a connection pool must set http, tcp or both")
    http = mapping(pool.get("http"))
    for name in (
        "http1MaxPendingRequests",
        "http2MaxRequests",
        "maxRequestsPerConnection",
        "maxRetries",
        "maxConcurrentStreams",
    ):
        value = as_integer(http.get(name))
        if value is not None and value < 0:
            report.error((*path, "http", name), f"must be 0 or more, found {value}")
    if http.get("h2UpgradePolicy") == "UPGRADE" and http.get("useClientProtocol") is True:
        report.error((*path, "http"), "useClientProtocol cannot be true when h2UpgradePolicy is UPGRADE")
    connections = as_integer(mapping(pool.get("tcp")).get("maxConnections"))
    if connections is not None and connections < 0:
        report.error((*path, "tcp", "maxConnections"), f"must be 0 or more, found {connections}")


CONNECTION_POOL = record(
    {
        "http": record(
            {
                "h2UpgradePolicy": Choice(("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE")),
                "http1MaxPendingRequests": INT32,
                "http2KeepAlive": record({"interval": DURATION, "timeout": DURATION}),
                "http2MaxRequests": INT32,
                "idleTimeout": DURATION,
                "maxConcurrentStreams": INT32,
                "maxRequestsPerConnection": INT32,
                "maxRetries": INT32,
                "useClientProtocol": BOOLEAN,
            }
        ),
        "tcp": record(
            {
                "connectTimeout": DURATION,
                "idleTimeout": DURATION,
                "maxConnectionDuration": DURATION,
                "maxConnections": INT32,
                "tcpKeepalive": record({"interval": DURATION, "probes": UINT32, "time": DURATION}),
            }
        ),
    },
    rules=(_check_connection_pool,),
)

# ---- load balancer -------------------------------------------------------------------------------


def _is_prime(number: int) -> bool:
    if 0 < number < 4:
        return True
    if number % 2 == 0:
        return False
    return all(number % factor for factor in range(3, math.isqrt(number) + 1, 2))


def _check_consistent_hash(hash_lb: Mapping[str, Any], path: Path, report: Report) -> None:
    ring_size = as_integer(hash_lb.get("minimumRingSize"))
    if ring_size:
        report.warning(
            (*path, "minimumRingSize"), "minimumRingSize is deprecated; use ringHash.minimumRingSize instead"
        )
        if is_set(hash_lb, "ringHash") or is_set(hash_lb, "maglev"):
            report.error(path, "set minimumRingSize or ringHash/maglev, not both")
    maglev = hash_lb.get("maglev")
    if isinstance(maglev, Mapping):
        size = as_integer(maglev.get("tableSize")) or 0
        where = (*path, "maglev", "tableSize")
        if size == 0:
            report.error(where, "maglev needs a tableSize (a prime number such as 65537)")
        elif size >= MAGLEV_TABLE_SIZE_LIMIT:
            report.error(where, f"must be less than {MAGLEV_TABLE_SIZE_LIMIT}, found {size}")
        elif size > 0 and not _is_prime(size):
            report.error(where, f"must be a prime number (such as 65537), found {size}")


def _check_locality(setting: Mapping[str, Any], path: Path, report: Report, has_outlier: bool) -> None:
    distribute, failover = sequence(setting.get("distribute")), sequence(setting.get("failover"))
    priority = [value for _, value in indexed_strings(setting.get("failoverPriority"))]
    if distribute and failover:
        report.error(path, "set distribute or failover, not both")
        return
    if failover:
        for label in priority:
            if label in TOPOLOGY_LABELS:
                report.error(
                    (*path, "failoverPriority"),
                    f"failover cannot be combined with the topology label {label} in failoverPriority",
                )
                return
    sources: list[str] = []
    for index, rule in enumerate(distribute):
        rule = mapping(rule)
        sources.append(text(rule.get("from")))
        total = 0
        for locality, weight in mapping(rule.get("to")).items():
            weight = as_integer(weight)
            if weight is None:
                continue
            if not 1 <= weight <= 100:
                report.error(
                    (*path, "distribute", index, "to", str(locality)),
                    f"must be a weight from 1 to 100, found {weight}",
                )
                return
            total += weight
        if total != 100:
            report.error((*path, "distribute", index, "to"), f"the weights must add up to 100, found {total}")
            return
        _check_localities(
            report, (*path, "distribute", index, "to"), [str(k) for k in mapping(rule.get("to"))]
        )
    _check_localities(report, (*path, "distribute"), sources)
    if (failover or priority) and not has_outlier:
        report.warning(path, "failover needs an outlierDetection policy to detect unhealthy endpoints")
    for index, rule in enumerate(failover):
        rule = mapping(rule)
        source, target = text(rule.get("from")), text(rule.get("to"))
        where = (*path, "failover", index)
        if source == target:
            report.error(where, "failover must be from one region to a different one")
        if "/" in source or "/" in target:
            report.error(where, "failover names regions only (no zone or subzone)")
        if "*" in source or "*" in target:
            report.error(where, "failover regions cannot contain the * wildcard")


def _check_localities(report: Report, path: Path, localities: list[str]) -> None:
    """Localities `region/zone/subzone`, `*` only once and last, none overlapping another."""
    covered: list[tuple[str, ...]] = []
    for locality in localities:
        stars = locality.count("*")
        if stars and (stars > 1 or not locality.endswith("*")):
            report.error(path, f"locality {quoted(locality)}: a * wildcard may appear once, at the end")
            return
        parts = tuple(locality.split("/", 2))
        if any(part == "" for part in parts):
            report.error(path, f"locality {quoted(locality)} has an empty region, zone or subzone")
            return
        scope = tuple(part for part in parts if part != "*")
        for earlier in covered:
            shorter = min(len(earlier), len(scope))
            if earlier[:shorter] == scope[:shorter]:
                report.error(path, f"locality {quoted(locality)} overlaps one listed before it")
                return
        covered.append(scope)


_DISTRIBUTE_AND_FAILOVER: dict[str, Node] = {
    "enabled": BOOLEAN,
    "failover": ListOf(record({"from": STRING, "to": STRING})),
    "failoverPriority": STRINGS,
}
LOCALITY_LB_SETTING = record(
    {
        "distribute": ListOf(record({"from": STRING, "to": MapOf(UINT32)})),
        **_DISTRIBUTE_AND_FAILOVER,
    }
)
ZONE_AWARE_LB_SETTING = record({**_DISTRIBUTE_AND_FAILOVER, "minClusterSize": Integer(1, 2**32 - 1)})

CONSISTENT_HASH = record(
    {
        "httpCookie": record(
            {
                "attributes": ListOf(record({"name": STRING, "value": STRING}, required=("name",))),
                "name": Text(min_length=1),
                "path": STRING,
                "ttl": ANY_DURATION,
            },
            required=("name",),
        ),
        "httpHeaderName": STRING,
        "httpQueryParameterName": STRING,
        "maglev": record({"tableSize": UINT64}),
        "minimumRingSize": UINT64,
        "ringHash": record({"minimumRingSize": UINT64}),
        "useSourceIp": BOOLEAN,
    },
    one_of=(
        ("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"),
        ("ringHash", "maglev"),
    ),
    rules=(_check_consistent_hash,),
)


LOAD_BALANCER = record(
    {
        "backendUtilization": record(
            {
                "errorUtilizationPenaltyPercent": UINT32,
                "metricNamesForComputingUtilization": STRINGS,
                "weightExpirationPeriod": ANY_DURATION,
                "weightStabilizationPeriod": ANY_DURATION,
                "weightUpdatePeriod": ANY_DURATION,
            }
        ),
        "consistentHash": CONSISTENT_HASH,
        "localityLbSetting": LOCALITY_LB_SETTING,
        "simple": Choice(
            ("UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST")
        ),
        "warmup": record(
            {
                "aggression": Number(0, None),
                "duration": DURATION,
                "minimumPercent": Number(0, 100),
            },
            required=("duration",),
        ),
        "warmupDurationSecs": DURATION,
        "zoneAwareLbSetting": ZONE_AWARE_LB_SETTING,
    },
    one_of=(("simple", "consistentHash", "backendUtilization"),),
)


# ---- outlier detection ---------------------------------------------------------------------------


def _check_outlier(outlier: Mapping[str, Any], path: Path, report: Report) -> None:
    if as_integer(outlier.get("consecutiveErrors")):
        report.warning(
            (*path, "consecutiveErrors"),
            "consecutiveErrors is deprecated; use consecutiveGatewayErrors or consecutive5xxErrors",
        )
    failures = as_integer(outlier.get("consecutiveLocalOriginFailures"))
    if failures and failures > 0 and outlier.get("splitExternalLocalOriginErrors") is not True:
        report.error(
            (*path, "consecutiveLocalOriginFailures"),
            "consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true",
        )
    for name in ("maxEjectionPercent", "minHealthPercent"):
        value = as_integer(outlier.get(name))
        if value is not None and not 0 <= value <= 100:
            report.error((*path, name), f"must be a percentage from 0 to 100, found {value}")


OUTLIER_DETECTION = record(
    {
        "baseEjectionTime": DURATION,
        "consecutive5xxErrors": UINT32,
        "consecutiveErrors": INT32,
        "consecutiveGatewayErrors": UINT32,
        "consecutiveLocalOriginFailures": UINT32,
        "interval": DURATION,
        "maxEjectionPercent": INT32,
        "minHealthPercent": INT32,
        "outlierDetectionHttpErrorCodes": ListOf(Integer(100, 599, "an HTTP status code")),
        "splitExternalLocalOriginErrors": BOOLEAN,
    },
    rules=(_check_outlier,),
)

# ---- client TLS ----------------------------------------------------------------------------------


def _check_client_tls(tls: Mapping[str, Any], path: Path, report: Report) -> None:
    mode = tls.get("mode")
    credential = text(tls.get("credentialName"))
    if credential.startswith("configmap://"):
        namespace, _, name = credential[len("configmap://") :].rpartition("/")
        if not name or (namespace and namespace != report.namespace):
            report.error(
                (*path, "credentialName"),
                "a configmap:// credential must name a ConfigMap in this resource's namespace",
            )
    if tls.get("insecureSkipVerify") is True:
        if mode == "SIMPLE" and (
            tls.get("caCertificates") or credential or tls.get("subjectAltNames") is not None
        ):
            report.error(
                path,
                "insecureSkipVerify: true cannot be combined with caCertificates, credentialName "
                "or subjectAltNames",
            )
        if mode == "MUTUAL" and (tls.get("caCertificates") or tls.get("subjectAltNames") is not None):
            report.error(
                path, "insecureSkipVerify: true cannot be combined with caCertificates or subjectAltNames"
            )
    if mode in ("SIMPLE", "MUTUAL") and credential:
        files = [
            name for name in ("clientCertificate", "caCertificates", "privateKey", "caCrl") if tls.get(name)
        ]
        if files:
            report.error(path, f"credentialName provides the certificates; remove {', '.join(files)}")
        return
    if mode == "MUTUAL":
        for name in ("clientCertificate", "privateKey"):
            if not tls.get(name):
                report.error(
                    (*path, name), "MUTUAL TLS needs clientCertificate and privateKey (or credentialName)"
                )


CLIENT_TLS = record(
    {
        "caCertificates": STRING,
        "caCrl": STRING,
        "clientCertificate": STRING,
        "credentialName": STRING,
        "insecureSkipVerify": BOOLEAN,
        "mode": Choice(("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL")),
        "privateKey": STRING,
        "sni": STRING,
        "subjectAltNames": STRINGS,
    },
    rules=(_check_client_tls,),
)

# ---- traffic policy ------------------------------------------------------------------------------

_POLICY_PARTS = ("connectionPool", "loadBalancer", "outlierDetection", "tls")


def _check_port_policy(policy: Mapping[str, Any], path: Path, report: Report) -> None:
    if not is_set(policy, "port"):
        report.error((*path, "port"), "a port-level traffic policy needs the port it applies to")
    if not any(is_set(policy, name) for name in _POLICY_PARTS):
        report.error(path, f"a port-level traffic policy must set at least one of {', '.join(_POLICY_PARTS)}")
    _check_locality_of(policy, path, report)


def _check_locality_of(policy: Mapping[str, Any], path: Path, report: Report) -> None:
    lb = mapping(policy.get("loadBalancer"))
    if isinstance(lb.get("localityLbSetting"), Mapping):
        _check_locality(
            lb["localityLbSetting"],
            (*path, "loadBalancer", "localityLbSetting"),
            report,
            is_set(policy, "outlierDetection"),
        )


def _check_traffic_policy(policy: Mapping[str, Any], path: Path, report: Report) -> None:
    parts = (*_POLICY_PARTS, "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget")
    if not any(is_set(policy, name) for name in parts):
        report.error(path, f"a traffic policy must set at least one of {', '.join(parts)}")
    if is_set(policy, "tunnel") and is_set(policy, "proxyProtocol"):
        report.error(path, "set tunnel or proxyProtocol, not both")
    _check_locality_of(policy, path, report)


def _check_tunnel(tunnel: Mapping[str, Any], path: Path, report: Report) -> None:
    protocol = tunnel.get("protocol")
    if isinstance(protocol, str) and protocol not in ("", "CONNECT", "POST"):
        report.error((*path, "protocol"), f'must be "CONNECT" or "POST", found {quoted(protocol)}')
    target = tunnel.get("targetHost")
    if isinstance(target, str) and formats.fqdn(target) and not formats.is_ip_address(target):
        report.error((*path, "targetHost"), f"must be a host name or an IP address, found {quoted(target)}")


PORT_TRAFFIC_POLICY = record(
    {
        "connectionPool": CONNECTION_POOL,
        "loadBalancer": LOAD_BALANCER,
        "outlierDetection": OUTLIER_DETECTION,
        "port": PORT_SELECTOR,
        "tls": CLIENT_TLS,
    },
    rules=(_check_port_policy,),
)

TRAFFIC_POLICY = record(
    {
        "connectionPool": CONNECTION_POOL,
        "loadBalancer": LOAD_BALANCER,
        "outlierDetection": OUTLIER_DETECTION,
        "portLevelSettings": ListOf(PORT_TRAFFIC_POLICY, max_items=4096),
        "proxyProtocol": record({"version": Choice(("V1", "V2"))}),
        "retryBudget": record(
            {"budgetInterval": ANY_DURATION, "minRetryConcurrency": UINT32, "percent": Number(0, 100)}
        ),
        "tls": CLIENT_TLS,
        "tunnel": record(
            {"protocol": STRING, "targetHost": STRING, "targetPort": Integer(1, 65535, "a port number")},
            required=("targetHost", "targetPort"),
            rules=(_check_tunnel,),
        ),
    },
    rules=(_check_traffic_policy,),
)

# ---- the whole spec ------------------------------------------------------------------------------


def _check_subset(subset: Mapping[str, Any], path: Path, report: Report) -> None:
    check_labels(report, (*path, "labels"), subset.get("labels"))


def _subset_name(value: str) -> str | None:
    problem = formats.dns1123_label(value)
    return f"subset {problem}" if problem else None


SUBSET = record(
    {"labels": MapOf(STRING), "name": Text((_subset_name,)), "trafficPolicy": TRAFFIC_POLICY},
    required=("name",),
    rules=(_check_subset,),
)


def _check_spec(spec: Mapping[str, Any], path: Path, report: Report) -> None:
    seen: dict[str, int] = {}
    for index, subset in enumerate(sequence(spec.get("subsets"))):
        name = mapping(subset).get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            report.error(
                (*path, "subsets", index, "name"),
                f"duplicate subset name {quoted(name)} (subsets[{seen[name]}])",
            )
        seen.setdefault(name, index)
    check_export_to(
        report, (*path, "exportTo"), spec.get("exportTo"), has_selector=is_set(spec, "workloadSelector")
    )


SPEC = record(
    {
        "exportTo": STRINGS,
        "host": Text((formats.wildcard_host,)),
        "subsets": ListOf(SUBSET),
        "trafficPolicy": TRAFFIC_POLICY,
        "workloadSelector": WORKLOAD_SELECTOR,
    },
    required=("host",),
    rules=(_check_spec,),
)
