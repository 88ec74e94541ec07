"""Process-wide counters: plain ints and lists indexed by status code (one event loop: no locks, and no
dict or tuple built per request). Response flags are counted in a dict only when a request has one. The
per-cluster counters live here too, so that the clusters import their counters and not the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .outlier import OutlierDetector


class ClusterStats:
    """Plain int counters (no locks: one event loop), named after Envoy's cluster stats."""

    __slots__ = (
        "upstream_rq_by_code",
        "upstream_rq_retry",
        "upstream_rq_retry_overflow",
        "upstream_rq_timeout",
        "upstream_rq_per_try_timeout",
        "upstream_rq_pending_overflow",
        "upstream_cx_total",
        "upstream_cx_connect_fail",
        "upstream_cx_tls_identity_mismatch",
        "upstream_rq_mirrored",
        "retry_or_shadow_abandoned",
    )

    def __init__(self) -> None:
        self.upstream_rq_by_code = [0] * 600
        self.upstream_rq_retry = 0
        self.upstream_rq_retry_overflow = 0
        self.upstream_rq_timeout = 0
        self.upstream_rq_per_try_timeout = 0
        self.upstream_rq_pending_overflow = 0
        self.upstream_cx_total = 0
        self.upstream_cx_connect_fail = 0
        self.upstream_cx_tls_identity_mismatch = 0
        self.upstream_rq_mirrored = 0
        self.retry_or_shadow_abandoned = 0

    @property
    def upstream_rq_total(self) -> int:
        return sum(self.upstream_rq_by_code)


class CountedCluster(Protocol):
    """What /stats reads of a cluster (cluster.ClusterState): its counters and its pool's gauges."""

    @property
    def name(self) -> str: ...

    @property
    def stats(self) -> ClusterStats: ...

    @property
    def connections(self) -> int: ...

    @property
    def pending(self) -> int: ...

    @property
    def outlier(self) -> OutlierDetector | None: ...


class Stats:
    __slots__ = (
        "downstream_cx_total",
        "downstream_cx_active",
        "downstream_cx_tls_refused",
        "downstream_cx_plaintext_refused",
        "downstream_rq_by_code",
        "downstream_rq_by_flags",
        "downstream_rq_rx_reset",
        "downstream_rq_protocol_error",
        "downstream_rq_header_overflow",
        "errors_contained",
        "config_applied",
        "config_rejected",
        "rbac_allowed",
        "rbac_denied",
    )

    def __init__(self) -> None:
        self.downstream_cx_total = 0
        self.downstream_cx_active = 0
        self.downstream_cx_tls_refused = 0
        self.downstream_cx_plaintext_refused = 0
        #: Index: the status code sent (0: none, the client went away first).
        self.downstream_rq_by_code = [0] * 600
        self.downstream_rq_by_flags: dict[str, int] = {}
        self.downstream_rq_rx_reset = 0
        self.downstream_rq_protocol_error = 0
        self.downstream_rq_header_overflow = 0
        #: Exceptions caught on a connection (each closed that connection, none stopped the proxy).
        self.errors_contained = 0
        self.config_applied = 0
        self.config_rejected = 0
        #: Requests AuthorizationPolicies let through / refused (Envoy's rbac.allowed, rbac.denied).
        self.rbac_allowed = 0
        self.rbac_denied = 0

    @property
    def downstream_rq_total(self) -> int:
        return sum(self.downstream_rq_by_code)

    def count_flags(self, flags: str) -> None:
        self.downstream_rq_by_flags[flags] = self.downstream_rq_by_flags.get(flags, 0) + 1

    def lines(self, clusters: Iterable[CountedCluster]) -> Iterator[tuple[str, int]]:
        """Envoy-style `name: value` pairs for /stats."""
        for name in (
            "downstream_cx_total",
            "downstream_cx_active",
            "downstream_cx_tls_refused",
            "downstream_cx_plaintext_refused",
            "downstream_rq_total",
            "downstream_rq_rx_reset",
            "downstream_rq_protocol_error",
            "downstream_rq_header_overflow",
            "errors_contained",
            "config_applied",
            "config_rejected",
        ):
            yield f"http.{name}", getattr(self, name)
        yield "http.rbac.allowed", self.rbac_allowed
        yield "http.rbac.denied", self.rbac_denied
        for code, count in enumerate(self.downstream_rq_by_code):
            if count:
                yield f"http.downstream_rq_{code}", count
        for flags, count in sorted(self.downstream_rq_by_flags.items()):
            yield f"http.downstream_rq_flags.{flags}", count
        for cluster in clusters:
            prefix = f"cluster.{cluster.name}"
            stats = cluster.stats
            yield f"{prefix}.upstream_rq_total", stats.upstream_rq_total
            for name in stats.__slots__:
                if name == "upstream_rq_by_code":
                    continue
                yield f"{prefix}.{name}", getattr(stats, name)
            yield f"{prefix}.upstream_cx_active", cluster.connections
            yield f"{prefix}.upstream_rq_pending_active", cluster.pending
            for code, count in enumerate(stats.upstream_rq_by_code):
                if count:
                    yield f"{prefix}.upstream_rq_{code}", count
            if cluster.outlier is not None:
                yield f"{prefix}.outlier_detection.ejections_total", cluster.outlier.ejections_total
                yield f"{prefix}.outlier_detection.ejections_active", cluster.outlier.ejections_active
                yield f"{prefix}.outlier_detection.ejections_overflow", cluster.outlier.ejections_overflow
