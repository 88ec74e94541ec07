"""Outlier detection per endpoint, as Envoy does it for Istio's DestinationRule outlierDetection.

Consecutive 5xx (and, when configured, consecutive gateway errors: 502, 503, 504) eject an endpoint at once;
connect failures, resets and timeouts count as a 503 (Envoy without split_external_local_origin_errors).
An ejected endpoint stays out for base_ejection_time × the number of times it was ejected (at most
MAX_EJECTION_TIME, or the base when larger), checked every `interval`; no more than max_ejection_percent of
the endpoints are out at once, but one always may be.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from mesh_runtime import xds

#: Envoy's max_ejection_time default.
MAX_EJECTION_TIME = 300.0
GATEWAY_ERRORS = frozenset((502, 503, 504))
#: What a locally originated failure (connect failure, reset, timeout) counts as.
LOCAL_FAILURE_STATUS = 503


class Detectable(Protocol):
    consecutive_5xx: int
    consecutive_gateway: int
    ejected: bool
    ejected_until: float
    ejection_count: int


class OutlierDetector:
    """Counts results per endpoint and ejects; `on_change` is called when the healthy set changes."""

    def __init__(
        self,
        settings: xds.OutlierDetection,
        endpoints: Callable[[], Sequence[Detectable]],
        on_change: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._endpoints = endpoints
        self._on_change = on_change
        self._clock = clock
        self._consecutive_5xx = settings.consecutive_5xx_errors or 0
        self._consecutive_gateway = settings.consecutive_gateway_errors or 0
        self._timer: asyncio.TimerHandle | None = None
        self.ejections_total = 0
        self.ejections_overflow = 0

    @property
    def ejections_active(self) -> int:
        return sum(1 for endpoint in self._endpoints() if endpoint.ejected)

    def record(self, endpoint: Detectable, status: int) -> None:
        """The result of one request to `endpoint` (its status, or LOCAL_FAILURE_STATUS)."""
        if status < 500:
            if endpoint.consecutive_5xx or endpoint.consecutive_gateway:
                endpoint.consecutive_5xx = endpoint.consecutive_gateway = 0
            return
        endpoint.consecutive_5xx += 1
        if status in GATEWAY_ERRORS:
            endpoint.consecutive_gateway += 1
        else:
            endpoint.consecutive_gateway = 0
        if (self._consecutive_5xx and endpoint.consecutive_5xx >= self._consecutive_5xx) or (
            self._consecutive_gateway and endpoint.consecutive_gateway >= self._consecutive_gateway
        ):
            self.eject(endpoint)

    def eject(self, endpoint: Detectable) -> bool:
        if endpoint.ejected:
            return False
        endpoints = self._endpoints()
        ejected = sum(1 for candidate in endpoints if candidate.ejected)
        if ejected and (ejected + 1) * 100 > self.settings.max_ejection_percent * len(endpoints):
            self.ejections_overflow += 1
            return False
        endpoint.ejection_count += 1
        duration = min(
            self.settings.base_ejection_time * endpoint.ejection_count,
            max(MAX_EJECTION_TIME, self.settings.base_ejection_time),
        )
        endpoint.ejected = True
        endpoint.ejected_until = self._clock() + duration
        endpoint.consecutive_5xx = endpoint.consecutive_gateway = 0
        self.ejections_total += 1
        self._on_change()
        return True

    def sweep(self) -> None:
        """Once an interval: bring back endpoints whose ejection ended; forgive those that stayed healthy."""
        now = self._clock()
        changed = False
        for endpoint in self._endpoints():
            if endpoint.ejected:
                if endpoint.ejected_until <= now:
                    endpoint.ejected = False
                    changed = True
            elif endpoint.ejection_count and not endpoint.consecutive_5xx:
                endpoint.ejection_count -= 1
        if changed:
            self._on_change()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        def tick() -> None:
            self.sweep()
            self._timer = loop.call_later(self.settings.interval, tick)

        if self._timer is None:
            self._timer = loop.call_later(self.settings.interval, tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
