"""The control-plane benchmark's arithmetic: vCPU from CPU and wall seconds, and its figures."""

from __future__ import annotations

import asyncio
import os

import pytest

from bench import common
from bench.controlplane import MB, Peak, Steady, figures, not_synced_figures, vcpu
from bench.convergence import NotSynced


def test_vcpu_is_cpu_seconds_over_wall_seconds() -> None:
    assert vcpu(10.0, 13.0, 100.0, 106.0) == pytest.approx(0.5)
    assert vcpu(10.0, 10.0, 0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="no wall time"):
        vcpu(1.0, 2.0, 5.0, 5.0)


def test_figures_judge_median_cpu_and_largest_rss_against_the_targets() -> None:
    steady = Steady(vcpu=[0.2, 0.9, 0.3], rss=[700 * MB, 760 * MB, 710 * MB], peak_rss=900 * MB)
    cpu, rss, *rest = figures(steady, 40 * MB, 60 * MB, 3.0, 20.0, 2000)
    assert cpu.value == pytest.approx(0.3) and cpu.met is True and "0.5" in cpu.target
    assert rss.value == pytest.approx(760) and rss.met is False and "750 MB" in rss.target
    assert [(f.name, f.value) for f in rest[:5]] == [
        ("meshd RSS just started", 40),
        ("meshd RSS idle with the Services, no proxy", 60),
        ("meshd RSS peak while the stand-ins connected", 900),
        ("certificates for 2000 stand-ins", 3.0),
        ("2000 stand-ins connected and SYNCED", 20.0),
    ]
    assert all(f.met is None for f in rest)


def test_the_rss_watch_passes_work_through_below_the_limit_and_stops_it_above() -> None:
    async def work() -> str:
        await asyncio.sleep(0.01)
        return "done"

    async def forever() -> None:
        await asyncio.Event().wait()

    async def scenario() -> None:
        roomy = Peak(os.getpid(), 1 << 50)
        assert await roomy.during(work()) == "done"
        assert 0 < roomy.rss <= 2 * common.rss_bytes(os.getpid())
        with pytest.raises(common.BenchError, match=r"RSS reached \d+ MB, above --rss-limit 1 MB"):
            await Peak(os.getpid(), MB).during(forever())

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_run_not_synced_in_time_records_the_miss_and_the_memory() -> None:
    miss = NotSynced(1234, 2000, 600.0, "meshd log")
    assert "1234 of the 2000 stand-ins were SYNCED after 600 s" in str(miss)
    synced, *memory = not_synced_figures(miss, 40 * MB, 60 * MB, 3000 * MB, 12.0)
    assert (synced.value, synced.target, synced.met) == (1234, "all 2000", False)
    assert [f.value for f in memory] == [40, 60, 3000, 12.0]
