# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for resources as kubernetes.core's `wait` does, over what meshd reports: which kinds have a
status, when a resource is ready (its `wait_condition`, or by default `Reconciled`: every proxy serves it),
and the polling loop, with its clock and pause injectable for tests.

meshd computes a `status` for the resources of Istio's API groups (`networking.istio.io`,
`security.istio.io`, ...): the condition `Reconciled`, True once every connected proxy serves a config that
includes the resource. Kubernetes' kinds as meshd stores them (Namespace, Service) have no conditions.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import time

from ansible_collections.meshlab.mesh.plugins.module_utils.runner import MeshctlError

RECONCILED = "Reconciled"
ISTIO_GROUP_SUFFIX = "istio.io"


def has_conditions(group):
    """Whether meshd reports status conditions for resources of this API group (Istio's groups)."""
    return group == ISTIO_GROUP_SUFFIX or (group or "").endswith("." + ISTIO_GROUP_SUFFIX)


def wanted_condition(group, wait_condition):
    """The condition a resource of `group` must have to be ready: the task's wait_condition, else
    Reconciled=True for the kinds that have conditions; None (it must only exist) for the others."""
    if wait_condition:
        return {
            "type": wait_condition["type"],
            "status": str(wait_condition.get("status") or "True"),
            "reason": wait_condition.get("reason"),
        }
    if has_conditions(group):
        return {"type": RECONCILED, "status": "True", "reason": None}
    return None


def condition_problem(document, wanted):
    """Why `document` does not (yet) have the `wanted` condition; None when it has it."""
    status = document.get("status") if isinstance(document.get("status"), dict) else {}
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    found = next((c for c in conditions if c.get("type") == wanted["type"]), None)
    if found is None:
        return f"has no {wanted['type']} condition"
    detail = ", ".join(part for part in (found.get("reason") or "", found.get("message") or "") if part)
    said = f"{wanted['type']} is {found.get('status')}" + (f" ({detail})" if detail else "")
    if str(found.get("status")) != wanted["status"]:
        return f"{said}, waiting for {wanted['status']}"
    if wanted.get("reason") and found.get("reason") != wanted["reason"]:
        return f"{said}, waiting for reason {wanted['reason']}"
    return None


def readiness_problem(document, group, wait_condition, absent=False):
    """Why a resource is not as waited for: gone (`absent`), or there with its condition; None when it is."""
    if absent:
        return None if document is None else "still exists"
    if document is None:
        return "does not exist"
    wanted = wanted_condition(group, wait_condition)
    return condition_problem(document, wanted) if wanted else None


def check_wait_condition(results, wait_condition, describe):
    """Refuse, before anything changes, a wait_condition on resources whose kind has no conditions."""
    if not wait_condition:
        return
    without = [describe(r) for r in results if not has_conditions(r.get("group", ""))]
    if without:
        raise MeshctlError(
            f"wait_condition: {', '.join(without)} "
            f"{'has' if len(without) == 1 else 'have'} no status conditions (meshd reports conditions for "
            "Istio's kinds only, such as VirtualService or DestinationRule); nothing was changed. Use "
            "wait without wait_condition, which waits until the resource exists."
        )


def wait_for(poll, problems_of, timeout, sleep, clock=time.monotonic, pause=time.sleep):
    """Poll until `problems_of(poll())` is empty or `timeout` seconds pass.

    Returns (the last poll, its problems, the seconds waited); problems are empty when all is ready.
    """
    started = clock()
    while True:
        found = poll()
        problems = problems_of(found)
        waited = clock() - started
        if not problems or waited >= timeout:
            return found, problems, round(waited, 3)
        pause(max(min(sleep, timeout - waited), 0))
