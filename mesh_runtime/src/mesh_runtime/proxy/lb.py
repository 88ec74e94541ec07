"""Load balancers over a cluster's healthy endpoints: Istio's LEAST_REQUEST (the default: power of two
choices), ROUND_ROBIN, RANDOM and consistent hashing (a ring, as Envoy's ring_hash).

Each balancer is rebuilt when the set of healthy endpoints changes (`rebuild`), so `pick` does the least
work it can: for one endpoint, nothing but an index.
"""

from __future__ import annotations

import bisect
import random
import zlib
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar


class Weighted(Protocol):
    weight: int
    active_requests: int
    #: Stable name of the endpoint on the hash ring (`address:port`).
    ring_key: str


E = TypeVar("E", bound=Weighted)

#: Points per unit of endpoint weight on the hash ring: fixed, so that an endpoint leaving the ring moves
#: only its own keys (the ring of 8 endpoints has Envoy's default minimum of 1024 points).
POINTS_PER_WEIGHT = 128


class LoadBalancer(Generic[E]):
    """Chooses an endpoint; `key` is the request's hash key (consistent hashing only)."""

    def __init__(self) -> None:
        self.endpoints: Sequence[E] = ()

    def rebuild(self, endpoints: Sequence[E]) -> None:
        self.endpoints = endpoints

    def pick(self, key: bytes | None = None) -> E | None:
        raise NotImplementedError


class LeastRequest(LoadBalancer[E]):
    """Two random choices, the one with fewer active requests wins (Envoy's default for equal weights)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        super().__init__()
        self._random = (rng or random.Random()).random
        self._weighted: list[E] = []

    def rebuild(self, endpoints: Sequence[E]) -> None:
        self.endpoints = endpoints
        weights = {endpoint.weight for endpoint in endpoints}
        self._weighted = _expand(endpoints) if len(weights) > 1 else []

    def pick(self, key: bytes | None = None) -> E | None:
        candidates = self._weighted or self.endpoints
        count = len(candidates)
        if count <= 1:
            return candidates[0] if count else None
        rand = self._random
        first = candidates[int(rand() * count)]
        second = candidates[int(rand() * count)]
        return first if first.active_requests <= second.active_requests else second


class RoundRobin(LoadBalancer[E]):
    def __init__(self) -> None:
        super().__init__()
        self._order: list[E] = []
        self._next = 0

    def rebuild(self, endpoints: Sequence[E]) -> None:
        self.endpoints = endpoints
        self._order = _expand(endpoints)
        if self._order:
            self._next %= len(self._order)

    def pick(self, key: bytes | None = None) -> E | None:
        order = self._order
        if not order:
            return None
        index = self._next
        self._next = (index + 1) % len(order)
        return order[index]


class Random(LoadBalancer[E]):
    def __init__(self, rng: random.Random | None = None) -> None:
        super().__init__()
        self._random = (rng or random.Random()).random
        self._order: list[E] = []

    def rebuild(self, endpoints: Sequence[E]) -> None:
        self.endpoints = endpoints
        self._order = _expand(endpoints)

    def pick(self, key: bytes | None = None) -> E | None:
        order = self._order
        return order[int(self._random() * len(order))] if order else None


class RingHash(LoadBalancer[E]):
    """A hash ring: the same key reaches the same endpoint while the set is stable, and losing an endpoint
    moves only its keys. A request without a key is spread at random."""

    def __init__(self, rng: random.Random | None = None) -> None:
        super().__init__()
        self._random = (rng or random.Random()).random
        self._hashes: list[int] = []
        self._owners: list[E] = []

    def rebuild(self, endpoints: Sequence[E]) -> None:
        self.endpoints = endpoints
        points: list[tuple[int, int, E]] = []
        for order, endpoint in enumerate(endpoints):
            name = endpoint.ring_key
            for replica in range(POINTS_PER_WEIGHT * min(max(endpoint.weight, 1), 128)):
                points.append((zlib.crc32(f"{name}_{replica}".encode()), order, endpoint))
        points.sort(key=lambda point: (point[0], point[1]))
        self._hashes = [point[0] for point in points]
        self._owners = [point[2] for point in points]

    def pick(self, key: bytes | None = None) -> E | None:
        if not self._owners:
            return None
        if key is None:
            return self._owners[int(self._random() * len(self._owners))]
        index = bisect.bisect_left(self._hashes, zlib.crc32(key))
        return self._owners[index % len(self._owners)]


def _expand(endpoints: Sequence[E]) -> list[E]:
    """Each endpoint as many times as its weight (divided by the weights' common divisor), interleaved."""
    if not endpoints:
        return []
    weights = [max(endpoint.weight, 1) for endpoint in endpoints]
    divisor = weights[0]
    for weight in weights[1:]:
        divisor = _gcd(divisor, weight)
    remaining = [weight // divisor for weight in weights]
    order: list[E] = []
    while any(remaining):
        for index, endpoint in enumerate(endpoints):
            if remaining[index]:
                order.append(endpoint)
                remaining[index] -= 1
    return order


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
