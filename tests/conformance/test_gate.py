"""The conformance gate's verdict: unknown failures and known failures that pass both fail it."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import yaml

from tests.conformance.gate import known_failures, verdict

SHARED = Path(os.environ.get("MESHLAB_SHARED", Path(__file__).resolve().parents[3] / "shared"))


def test_only_the_known_failures_failing_passes() -> None:
    ok, lines = verdict(Counter({"a :: one": 1}), Counter({"b :: two": 2}), Counter({"b :: two": 2}))
    assert ok
    assert lines == ["conformance: 1 of 3 cases pass; 2 fail as known_failures.txt expects"]


def test_a_failure_not_on_the_list_fails_the_gate() -> None:
    ok, lines = verdict(Counter(), Counter({"a :: one": 1, "b :: two": 1}), Counter({"b :: two": 1}))
    assert not ok
    assert "conformance: FAILED, not a known failure: a :: one" in lines


def test_a_known_failure_that_passes_must_leave_the_list() -> None:
    ok, lines = verdict(Counter({"b :: two": 2}), Counter({"b :: two": 1}), Counter({"b :: two": 2}))
    assert not ok
    assert "conformance: now passes, take it off tests/conformance/known_failures.txt: b :: two" in lines


def test_every_known_failure_is_a_case_of_the_shared_grid() -> None:
    cases = yaml.safe_load((SHARED / "conformance" / "istio-analyzers" / "cases.yaml").read_text())["cases"]
    grid = Counter(f"{case['analyzer']} :: {case['name']}" for case in cases)
    listed = known_failures()
    assert listed, "known_failures.txt lists nothing: delete it and the gate's list instead"
    assert not listed - grid, f"not cases of the grid: {sorted((listed - grid).elements())}"
