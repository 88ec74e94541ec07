"""The discovery stream's reconnect back-off: doubling, capped at a few seconds, jittered, started over."""

from __future__ import annotations

import itertools

from mesh_runtime.proxy.backoff import RECONNECT_LONGEST, Backoff


def test_the_wait_doubles_up_to_the_longest_step_with_jitter_below_it() -> None:
    highest = Backoff(uniform=lambda: 1.0)
    assert [highest.next_wait() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    lowest = Backoff(uniform=lambda: 0.0)
    assert [lowest.next_wait() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.5, 2.5]
    assert RECONNECT_LONGEST == 5.0  # the documented longest wait while meshd is away


def test_jitter_spreads_proxies_that_lost_meshd_together() -> None:
    draws = itertools.cycle([0.1, 0.9, 0.5])
    backoff = Backoff(uniform=lambda: next(draws))
    waits = [backoff.next_wait() for _ in range(12)][4:]  # past the doubling: every step is the longest
    assert len(set(waits)) == 3 and all(2.5 <= w <= 5.0 for w in waits)


def test_reset_starts_over_once_meshd_accepted_a_stream() -> None:
    backoff = Backoff(uniform=lambda: 1.0)
    for _ in range(10):
        backoff.next_wait()
    backoff.reset()
    assert backoff.next_wait() == 0.5
