"""Deciding when a change has converged, from the (proxy, version, time, markers) each stand-in recorded."""

from __future__ import annotations

import argparse

import pytest

from bench.convergence import (
    Point,
    change_marker,
    convergence,
    figures,
    missing,
    parse_counts,
    sweep_counts,
    synced_in,
)
from bench.standin import PushEvent

MARK = change_marker("/bench-x-100-3")


def event(proxy: str, acked: float, *carries: bytes, version: str = "v") -> PushEvent:
    return PushEvent(proxy, version, "n", acked - 0.001, acked, True, carries)


def test_converged_when_the_last_proxy_acked_a_push_carrying_the_change() -> None:
    events = [
        event("a", 10.2, MARK),
        event("b", 10.1),  # an endpoint push in between, without the change
        event("b", 10.7, MARK),
        event("a", 11.5, MARK),  # a later push still carrying it: a's first one counts
    ]
    assert convergence(events, ["a", "b"], MARK, 10.0) == pytest.approx(0.7)
    assert missing(events, ["a", "b"], MARK) == []


def test_not_converged_while_one_proxy_has_no_push_carrying_it() -> None:
    events = [event("a", 10.2, MARK), event("b", 10.3)]
    assert convergence(events, ["a", "b"], MARK, 10.0) is None
    assert missing(events, ["a", "b", "c"], MARK) == ["b", "c"]


def test_acks_from_before_the_change_do_not_count() -> None:
    assert convergence([event("a", 9.9, MARK)], ["a"], MARK, 10.0) is None


def test_one_changes_marker_is_not_found_in_anothers_push() -> None:
    later = change_marker("/bench-x-100-30")
    assert MARK not in b'{"value":' + later + b"}" and MARK in b'{"value":' + MARK + b"}"
    assert convergence([event("a", 10.5, later)], ["a"], MARK, 10.0) is None


def test_sweep_counts_ascend_and_end_with_the_main_count() -> None:
    assert sweep_counts([100, 10, 50, 500], 100) == [10, 50, 100]
    assert sweep_counts([], 20) == [20]
    assert parse_counts("10,50, 100") == [10, 50, 100]
    for bad in ("10,x", "0,5"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_counts(bad)


def test_figures_judge_the_p99_at_the_main_count_only() -> None:
    main = Point(100, (0.1, 0.2, 0.3, 0.4, 0.9))
    small = Point(10, (0.05, 0.06))
    out = figures([small, main], 100)
    names = [f.name for f in out]
    assert names[:3] == [
        "convergence p50, 100 proxies",
        "convergence p90, 100 proxies",
        "convergence p99, 100 proxies",
    ]
    assert names[3:] == ["convergence p50, 10 proxies", "convergence p99, 10 proxies"]
    p99 = out[2]
    assert p99.value == pytest.approx(0.3 * 0 + 0.4 + (0.9 - 0.4) * 0.96) and p99.met is False
    assert "0.5 s" in p99.target and all(f.met is None for f in out if f is not p99)
    assert figures([Point(100, (0.1, 0.2))], 100)[2].met is True


def test_synced_in_counts_only_the_fleets_synced_proxies() -> None:
    rows = [{"id": "a", "state": "SYNCED"}, {"id": "b", "state": "STALE"}, {"id": "x", "state": "SYNCED"}]
    assert synced_in(rows, ["a", "b", "c"]) == 1
    assert synced_in([], ["a"]) == 0
