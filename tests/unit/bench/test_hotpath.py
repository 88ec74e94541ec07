"""The hot-path benchmark: callgrind's count read from its report, a request's cost from two counts, and the
driver's request path running every configuration."""

from __future__ import annotations

import pytest

from bench.common import BenchError
from bench.hotpath import CONFIGS, collected, per_request
from bench.hotpath_driver import drive

REPORT = """==4242== Callgrind, a call-graph generating cache profiler
==4242== Events    : Ir
==4242== Collected : 1234567890
==4242==
==4242== I   refs:      1,234,567,890
"""


def test_the_count_is_read_from_callgrinds_report() -> None:
    assert collected(REPORT) == 1234567890
    with pytest.raises(BenchError, match="no count"):
        collected("valgrind: command not found")


def test_a_request_costs_the_difference_between_two_runs_over_the_requests() -> None:
    assert per_request(1_000_000, 1_140_000, 2000) == 70.0


@pytest.mark.parametrize("flags", list(CONFIGS.values()), ids=list(CONFIGS))
def test_the_driver_runs_each_configuration(flags: tuple[int, int, int]) -> None:
    tracing, log, traced = flags
    drive(bool(tracing), bool(log), bool(traced), 50)
