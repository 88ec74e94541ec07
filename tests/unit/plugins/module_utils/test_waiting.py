"""plugins/module_utils/waiting.py: which kinds have conditions, when a resource is ready, the poll loop."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.meshlab.mesh.plugins.module_utils import runner, waiting


def with_condition(
    status: str, reason: str = "ProxiesPending", message: str = "0/1 proxies up to date."
) -> dict[str, Any]:
    condition = {"type": "Reconciled", "status": status, "reason": reason, "message": message}
    return {"kind": "VirtualService", "metadata": {"name": "r"}, "status": {"conditions": [condition]}}


def test_istios_groups_have_conditions_kubernetes_core_does_not() -> None:
    assert waiting.has_conditions("networking.istio.io") and waiting.has_conditions("security.istio.io")
    assert not waiting.has_conditions("") and not waiting.has_conditions("gateway.networking.k8s.io")
    assert not waiting.has_conditions("notistio.io")


def test_readiness_by_default_is_reconciled_for_istio_kinds_and_existence_for_others() -> None:
    assert waiting.readiness_problem(None, "networking.istio.io", None) == "does not exist"
    assert waiting.readiness_problem(with_condition("False"), "networking.istio.io", None) == (
        "Reconciled is False (ProxiesPending, 0/1 proxies up to date.), waiting for True"
    )
    assert (
        waiting.readiness_problem(with_condition("True", "ProxiesUpToDate"), "networking.istio.io", None)
        is None
    )
    assert waiting.readiness_problem({"kind": "Service"}, "", None) is None
    assert waiting.readiness_problem({"kind": "Service"}, "", None, absent=True) == "still exists"
    assert waiting.readiness_problem(None, "", None, absent=True) is None


def test_a_wait_condition_checks_type_status_and_reason() -> None:
    wanted = {"type": "Reconciled", "status": "False", "reason": "ProxyRejected"}
    assert waiting.readiness_problem(with_condition("False"), "networking.istio.io", wanted) == (
        "Reconciled is False (ProxiesPending, 0/1 proxies up to date.), waiting for reason ProxyRejected"
    )
    assert waiting.readiness_problem(with_condition("False", "ProxyRejected"), "x.istio.io", wanted) is None
    other = {"type": "Ready", "status": "True", "reason": None}
    assert waiting.readiness_problem(with_condition("True"), "x.istio.io", other) == "has no Ready condition"


def test_a_wait_condition_on_a_kind_without_conditions_is_refused() -> None:
    results = [
        {"kind": "VirtualService", "group": "networking.istio.io", "namespace": "default", "name": "r"},
        {"kind": "Service", "group": "", "namespace": "default", "name": "reviews"},
        {"kind": "Namespace", "group": "", "namespace": "", "name": "shop"},
    ]
    with pytest.raises(runner.MeshctlError) as caught:
        waiting.check_wait_condition(results, {"type": "Reconciled"}, lambda r: f"{r['kind']} {r['name']}")
    assert caught.value.msg.startswith(
        "wait_condition: Service reviews, Namespace shop have no status conditions (meshd reports conditions "
        "for Istio's kinds only"
    )
    assert "nothing was changed" in caught.value.msg
    waiting.check_wait_condition(results[:1], {"type": "Reconciled"}, str)
    waiting.check_wait_condition(results, None, str)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_wait_for_polls_until_nothing_is_missing() -> None:
    clock = FakeClock()
    polls = iter([{"r": 1}, {"r": 2}, {"r": 3}])
    found, problems, waited = waiting.wait_for(
        lambda: next(polls),
        lambda seen: {} if seen["r"] == 3 else {"r": "not yet"},
        10,
        2,
        clock,
        clock.pause,
    )
    assert (found, problems, waited, clock.pauses) == ({"r": 3}, {}, 4.0, [2, 2])


def test_wait_for_gives_up_at_the_timeout_with_the_last_problems() -> None:
    clock = FakeClock()
    found, problems, waited = waiting.wait_for(
        lambda: {}, lambda seen: {"r": "not yet"}, 5, 2, clock, clock.pause
    )
    assert (problems, waited, clock.pauses) == ({"r": "not yet"}, 5.0, [2, 2, 1])
