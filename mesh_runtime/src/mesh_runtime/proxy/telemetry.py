"""Istio's standard metrics (`istio_requests_total`, `istio_request_duration_milliseconds`,
`istio_request_bytes`, `istio_response_bytes`), kept cheap.

A request is counted under a small key (the upstream endpoint or the downstream peer, the status code and the
response flags). The first request with a key resolves its Istio labels into one text; every later one adds
to plain ints and bucket arrays. Rendering (`/stats/prometheus`) does the string work. One event loop: no
locks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from mesh_runtime import xds

from .authz import namespace_of, principal_of

if TYPE_CHECKING:
    from .cluster import ClusterState, EndpointState

#: Envoy's default histogram buckets (ms for durations, bytes for sizes).
BUCKETS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
    3600000,
)  # fmt: skip
_BUCKET_COUNT = len(BUCKETS) + 1  # the last: +Inf only
_REQUEST, _RESPONSE = _BUCKET_COUNT, 2 * _BUCKET_COUNT

UNKNOWN = "unknown"
#: Istio's default cluster id (`source_cluster`, `destination_cluster`).
CLUSTER_ID = "Kubernetes"
#: The header a client-side proxy adds with its workload's metadata (Istio: x-envoy-peer-metadata).
PEER_HEADER = b"x-meshlab-peer"
_PEER_FIELDS = 7

LABEL_NAMES = (
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_canonical_service",
    "source_canonical_revision",
    "source_cluster",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_canonical_service",
    "destination_canonical_revision",
    "destination_cluster",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy",
)


class Series:
    """The four metrics of one label set: one list holds the three histograms' buckets (duration, request
    size, response size, each `_BUCKET_COUNT` long), another their sums; the count is derived."""

    __slots__ = ("labels", "buckets", "sums")

    def __init__(self, labels: str) -> None:
        self.labels = labels
        self.buckets = [0] * (3 * _BUCKET_COUNT)
        self.sums = [0.0, 0, 0]

    def add(self, duration_ms: float, request_bytes: int, response_bytes: int) -> None:
        buckets = self.buckets
        buckets[bisect_left(BUCKETS, duration_ms)] += 1
        buckets[_REQUEST + bisect_left(BUCKETS, request_bytes)] += 1
        buckets[_RESPONSE + bisect_left(BUCKETS, response_bytes)] += 1
        sums = self.sums
        sums[0] += duration_ms
        sums[1] += request_bytes
        sums[2] += response_bytes

    @property
    def count(self) -> int:
        return sum(self.buckets[:_BUCKET_COUNT])


# -- workload facts ----------------------------------------------------------------------------------------


def canonical_service(labels: Mapping[str, str], workload: str) -> str:
    return (
        labels.get("service.istio.io/canonical-name")
        or labels.get("app.kubernetes.io/name")
        or labels.get("app")
        or workload
        or UNKNOWN
    )


def canonical_revision(labels: Mapping[str, str]) -> str:
    return (
        labels.get("service.istio.io/canonical-revision")
        or labels.get("app.kubernetes.io/version")
        or labels.get("version")
        or "latest"
    )


def _principal(identity: str) -> str:
    return identity or UNKNOWN


def workload_facts(workload: str, namespace: str, labels: Mapping[str, str]) -> tuple[str, ...]:
    """(workload, namespace, app, version, canonical service, canonical revision, cluster)."""
    return (
        workload or UNKNOWN,
        namespace or UNKNOWN,
        labels.get("app") or UNKNOWN,
        labels.get("version") or UNKNOWN,
        canonical_service(labels, workload),
        canonical_revision(labels),
        CLUSTER_ID,
    )


def encode_peer(node: xds.Node) -> bytes:
    """The value of the peer header a client-side proxy sends: its workload facts, `;`-separated."""
    facts = workload_facts(node.workload, node.namespace, node.labels)
    return ";".join(value.replace(";", "_") for value in facts).encode()


def decode_peer(value: bytes) -> tuple[str, ...]:
    fields = value.decode("latin-1").split(";")
    if len(fields) != _PEER_FIELDS:
        return (UNKNOWN,) * _PEER_FIELDS
    return tuple(field or UNKNOWN for field in fields)


def _service_parts(fqdn: str) -> tuple[str, str, str]:
    if not fqdn:
        return UNKNOWN, UNKNOWN, UNKNOWN
    parts = fqdn.split(".")
    return fqdn, parts[0], parts[1] if len(parts) > 1 else UNKNOWN


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def label_text(values: Iterable[str]) -> str:
    return ",".join(f'{name}="{_escape(value)}"' for name, value in zip(LABEL_NAMES, values, strict=True))


# -- the recorder ------------------------------------------------------------------------------------------


class IstioMetrics:
    """Every series of this proxy. Keys: (endpoint state or peer, status, flags)."""

    __slots__ = ("series", "node", "peer_value", "_source_facts", "_source_principal")

    def __init__(self, node: xds.Node, identity: str = "") -> None:
        self.series: dict[tuple[object, ...], Series] = {}
        self.node = node
        self.peer_value = encode_peer(node)
        self._source_facts = workload_facts(node.workload, node.namespace, node.labels)
        self._source_principal = identity

    def set_node(self, node: xds.Node) -> None:
        self.node = node
        self._source_facts = workload_facts(node.workload, node.namespace, node.labels)

    def set_identity(self, identity: str) -> None:
        self._source_principal = identity

    def outbound(
        self,
        key: tuple[object, ...],
        endpoint: EndpointState | None,
        cluster: ClusterState | None,
        status: int,
        flags: str,
    ) -> Series:
        """The reporter="source" series for a request this proxy sent (client sidecar, gateway)."""
        series = self.series.get(key)
        if series is None:
            service = cluster.spec.service if cluster is not None else ""
            series = self.series[key] = Series(self._outbound_labels(endpoint, service, status, flags))
        return series

    def inbound(
        self, key: tuple[object, ...], peer: bytes, peer_identity: str, mtls: bool, status: int, flags: str
    ) -> Series:
        """The reporter="destination" series for a request this sidecar received."""
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series(self._inbound_labels(peer, peer_identity, mtls, status, flags))
        return series

    def _outbound_labels(self, endpoint: EndpointState | None, service: str, status: int, flags: str) -> str:
        if endpoint is not None:
            spec = endpoint.endpoint
            destination = workload_facts(spec.workload, spec.namespace, spec.labels)
            destination_principal = _principal(spec.identity)
        else:
            destination = (UNKNOWN,) * 4 + (UNKNOWN, "latest", UNKNOWN)
            destination_principal = UNKNOWN
        return _ordered(
            "source",
            self._source_facts,
            _principal(self._source_principal),
            destination,
            destination_principal,
            service,
            status,
            flags,
            UNKNOWN,
        )

    def _inbound_labels(self, peer: bytes, peer_identity: str, mtls: bool, status: int, flags: str) -> str:
        source = decode_peer(peer) if peer else (UNKNOWN,) * 5 + ("latest", UNKNOWN)
        if not peer and peer_identity:
            # No peer header (a client without a mesh proxy of ours): the namespace is in the identity.
            namespace = namespace_of(principal_of(peer_identity)) or UNKNOWN
            source = (UNKNOWN, namespace, *source[2:])
        node = self.node
        destination = workload_facts(node.workload, node.namespace, node.labels)
        service = node.services[0] if node.services else ""
        return _ordered(
            "destination",
            source,
            _principal(peer_identity),
            destination,
            _principal(self._source_principal),
            service,
            status,
            flags,
            "mutual_tls" if mtls else "none",
        )

    def samples(self) -> list[Series]:
        return list(self.series.values())


def _ordered(
    reporter: str,
    source: tuple[str, ...],
    source_principal: str,
    destination: tuple[str, ...],
    destination_principal: str,
    service: str,
    status: int,
    flags: str,
    security: str,
) -> str:
    return label_text(
        (
            reporter,
            source[0],
            source[1],
            source_principal,
            source[2],
            source[3],
            source[4],
            source[5],
            source[6],
            destination[0],
            destination[1],
            destination_principal,
            destination[2],
            destination[3],
            *_service_parts(service),
            destination[4],
            destination[5],
            destination[6],
            "http",
            str(status),
            "",
            flags or "-",
            security,
        )
    )


# -- rendering ---------------------------------------------------------------------------------------------


def render(series: Iterable[Series]) -> str:
    """Prometheus text format of every series."""
    ordered = sorted(series, key=lambda s: s.labels)
    out: list[str] = ["# TYPE istio_requests_total counter\n"]
    out += [f"istio_requests_total{{{s.labels}}} {s.count}\n" for s in ordered]
    for index, name in enumerate(
        ("istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes")
    ):
        out.append(f"# TYPE {name} histogram\n")
        for s in ordered:
            counts = s.buckets[index * _BUCKET_COUNT : (index + 1) * _BUCKET_COUNT]
            running = 0
            for bound, count in zip(BUCKETS, counts, strict=False):
                running += count
                out.append(f'{name}_bucket{{{s.labels},le="{_bound(bound)}"}} {running}\n')
            total = running + counts[-1]
            out.append(f'{name}_bucket{{{s.labels},le="+Inf"}} {total}\n')
            out.append(f"{name}_sum{{{s.labels}}} {_number(s.sums[index])}\n")
            out.append(f"{name}_count{{{s.labels}}} {total}\n")
    return "".join(out)


def _bound(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
