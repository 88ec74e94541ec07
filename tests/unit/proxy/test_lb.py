from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from mesh_runtime.proxy import lb


@dataclass(eq=False)
class Host:
    ring_key: str
    weight: int = 1
    active_requests: int = 0


def hosts(*weights: int) -> list[Host]:
    return [Host(f"10.0.0.{n}:9080", weight) for n, weight in enumerate(weights)]


def test_least_request_prefers_the_less_loaded_of_two() -> None:
    busy, idle = hosts(1, 1)
    busy.active_requests = 10
    balancer: lb.LeastRequest[Host] = lb.LeastRequest(random.Random(1))
    balancer.rebuild([busy, idle])
    picks = Counter(balancer.pick() for _ in range(1000))
    assert picks[idle] > 700  # it wins whenever it is one of the two choices
    balancer.rebuild([])
    assert balancer.pick() is None


def test_round_robin_follows_weights() -> None:
    a, b = hosts(1, 3)
    balancer: lb.RoundRobin[Host] = lb.RoundRobin()
    balancer.rebuild([a, b])
    assert Counter(balancer.pick() for _ in range(400)) == {a: 100, b: 300}


def test_random_spreads() -> None:
    balancer: lb.Random[Host] = lb.Random(random.Random(2))
    three = hosts(1, 1, 1)
    balancer.rebuild(three)
    assert set(Counter(balancer.pick() for _ in range(300))) == set(three)


def test_ring_hash_is_sticky_and_moves_only_lost_keys() -> None:
    balancer: lb.RingHash[Host] = lb.RingHash(random.Random(3))
    three = hosts(1, 1, 1)
    balancer.rebuild(three)
    keys = [f"user-{n}".encode() for n in range(300)]
    before = {key: balancer.pick(key) for key in keys}
    assert all(balancer.pick(key) is before[key] for key in keys)
    assert len(set(before.values())) == 3
    balancer.rebuild(three[:2])
    moved = [key for key in keys if balancer.pick(key) is not before[key]]
    assert all(before[key] is three[2] for key in moved)
