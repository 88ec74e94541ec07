"""Discovery's metrics, named as Istio's pilot names them, in Prometheus text format.

Counters and gauges are the CA's (`ca.metrics`); histograms are added here. Who moves what: the push server
counts pushes, rejects and convergence; meshd sets the gauges of connected proxies and config sizes.
"""

from __future__ import annotations

import bisect
import threading

from ..ca.metrics import Counter, Gauge, MetricFamily, render_prometheus

#: pilot_proxy_convergence_time's buckets (seconds), as Istio declares them.
CONVERGENCE_BUCKETS = (0.1, 0.5, 1.0, 3.0, 5.0, 10.0, 20.0, 30.0)
#: pilot_xds_push_time's buckets (seconds).
PUSH_TIME_BUCKETS = (0.01, 0.1, 0.5, 1.0, 3.0, 5.0, 10.0, 20.0, 30.0)
DEBOUNCE_BUCKETS = (0.01, 0.1, 0.5, 1.0, 3.0, 5.0, 10.0, 20.0, 30.0)


class Histogram(MetricFamily):
    """Observations counted into cumulative buckets, with their sum and count (no labels)."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        super().__init__(name, help_text)
        self.buckets = buckets
        self._counts = [0] * (len(buckets) + 1)
        self._sum = 0.0
        self._histogram_lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._histogram_lock:
            self._counts[bisect.bisect_left(self.buckets, value)] += 1
            self._sum += value

    @property
    def count(self) -> int:
        with self._histogram_lock:
            return sum(self._counts)

    def render(self) -> str:
        with self._histogram_lock:
            counts, total = list(self._counts), self._sum
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, count in zip(self.buckets, counts, strict=False):
            cumulative += count
            lines.append(f'{self.name}_bucket{{le="{_number(bound)}"}} {cumulative}')
        cumulative += counts[-1]
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {cumulative}')
        lines.append(f"{self.name}_sum {_number(total)}")
        lines.append(f"{self.name}_count {cumulative}")
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


class DiscoveryMetrics:
    def __init__(self) -> None:
        self.xds = Gauge("pilot_xds", "Proxies connected to the discovery stream right now.")
        self.xds.set(0)
        self.pushes = Counter(
            "pilot_xds_pushes",
            "Config pushes sent, by type (cds, lds, rds, eds; *_builderr, *_senderr).",
            ("type",),
        )
        self.rejects = Counter(
            "pilot_total_xds_rejects", "Pushes a proxy answered with a NACK, by type.", ("type",)
        )
        self.convergence = Histogram(
            "pilot_proxy_convergence_time",
            "Seconds from a config or registry change to the proxy acknowledging the push that carries it.",
            CONVERGENCE_BUCKETS,
        )
        self.push_time = Histogram(
            "pilot_xds_push_time",
            "Seconds spent building and sending one push to one proxy.",
            PUSH_TIME_BUCKETS,
        )
        self.debounce_time = Histogram(
            "pilot_debounce_time",
            "Seconds from the first change of a batch to the batch being pushed.",
            DEBOUNCE_BUCKETS,
        )
        self.push_triggers = Counter(
            "pilot_push_triggers", "Batches of changes pushed, by what changed (config, endpoint).", ("type",)
        )
        self.services = Gauge("pilot_services", "Services in the registry, ServiceEntry hosts included.")
        self.virtual_services = Gauge("pilot_virt_services", "VirtualServices in the store.")
        self.refused_streams = Counter(
            "meshd_discovery_streams_refused_total",
            "Discovery streams refused (no client certificate, a Hello for another identity, bad messages).",
            ("reason",),
        )
        self.silent_streams = Counter(
            "meshd_discovery_streams_silent_total",
            "Discovery streams closed as dead: the proxy sent nothing for three heartbeat intervals.",
        )

    def families(self) -> list[MetricFamily]:
        return [
            self.xds,
            self.pushes,
            self.rejects,
            self.convergence,
            self.push_time,
            self.debounce_time,
            self.push_triggers,
            self.services,
            self.virtual_services,
            self.refused_streams,
            self.silent_streams,
        ]

    def render_prometheus(self) -> str:
        return render_prometheus(self.families())
