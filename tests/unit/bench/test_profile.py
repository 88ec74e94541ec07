"""Summing py-spy's raw samples by function."""

from __future__ import annotations

from bench.profile import function_name, summarize

MAIN = "<module> (mesh_runtime/proxy/__main__.py:7)"
LOOP = "Runner.run (asyncio/runners.py:118)"
READ = "data_received (x/downstream.py:244)"
RAW = "\n".join(
    [
        f"{MAIN};run (uvloop/__init__.py:92);{LOOP} 50",
        f"{MAIN};{LOOP};{READ};upstream_ready (x/downstream.py:432) 30",
        f"{MAIN};{LOOP};{READ};upstream_ready (x/downstream.py:440) 20",
        "not a sample line",
    ]
)


def test_samples_are_summed_by_function_own_and_inclusive() -> None:
    profile = summarize(RAW)
    assert profile.samples == 100
    assert profile.own == [("Runner.run (runners.py)", 50), ("upstream_ready (downstream.py)", 50)]
    inclusive = dict(profile.inclusive)
    assert inclusive["<module> (__main__.py)"] == 100
    assert inclusive["data_received (downstream.py)"] == 50
    assert profile.share(25) == 25.0


def test_a_frame_is_named_by_function_and_file() -> None:
    assert function_name("Class.method (a/b/file.py:12)") == "Class.method (file.py)"
    assert function_name("<native>") == "<native>"
