"""plugins/module_utils/proxies.py: proxy_status's selection, sync summary and reading of meshctl's rows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.meshlab.mesh.plugins.module_utils import proxies, runner


def row(proxy_id: str, state: str = "SYNCED", error: str = "") -> dict[str, Any]:
    return {"id": proxy_id, "namespace": proxy_id.split(".")[1], "state": state, "last_error": error}


ROWS = [
    row("ratings-v1.default"),
    row("reviews-v1.default", "STALE", "no such cluster"),
    row("gw.istio-system"),
]


def test_proxies_are_selected_by_id_or_namespace() -> None:
    assert proxies.selected(ROWS, proxy="gw.istio-system") == [ROWS[2]]
    assert proxies.selected(ROWS, namespace="default") == ROWS[:2]
    assert proxies.selected(ROWS) == ROWS


def test_unsynced_proxies_and_counts() -> None:
    assert proxies.unsynced(ROWS) == [
        {"id": "reviews-v1.default", "state": "STALE", "last_error": "no such cluster"}
    ]
    assert proxies.unsynced([], proxy="x.default") == [
        {"id": "x.default", "state": "NOT CONNECTED", "last_error": ""}
    ]
    assert proxies.counts(ROWS) == {"SYNCED": 2, "STALE": 1, "NOT SENT": 0}
    assert (
        proxies.describe_unsynced(proxies.unsynced(ROWS)) == "reviews-v1.default is STALE (no such cluster)"
    )


def test_meshctls_rows_are_read_or_explained() -> None:
    assert proxies.interpret_rows(0, json.dumps(ROWS), "", {}) == {"rows": ROWS}
    with pytest.raises(runner.MeshctlError, match="not a list of proxies"):
        proxies.interpret_rows(0, json.dumps([{"state": "SYNCED"}]), "", {})
    with pytest.raises(
        runner.MeshctlError, match=r"meshctl proxy-status failed \(exit 1\): Error: no control plane"
    ):
        proxies.interpret_rows(1, "", "Error: no control plane (meshd) answered", {})
    with pytest.raises(runner.MeshctlError, match="wait_timeout: must be 0 or more seconds"):
        proxies.check_options({"wait_timeout": -1, "wait_sleep": 1})
