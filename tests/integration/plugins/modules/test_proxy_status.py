"""meshlab.mesh.proxy_status in a real playbook run (playbooks/proxy_status.yml) against a real mesh:
waiting for sync after a config change, one proxy, a namespace, a proxy that is not connected."""

from __future__ import annotations

import pytest

from tests.integration.plugins.ansible_run import PlaybookRun, run_playbook

EXPECTED_FAILURES = {"Wait for a proxy that never connects"}


@pytest.fixture(scope="module")
def run(lab_api: dict[str, str]) -> PlaybookRun:
    return run_playbook("proxy_status.yml", lab_api)


def test_the_play_fails_exactly_where_expected(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(run.failed_tasks()) == EXPECTED_FAILURES


def test_wait_for_sync_returns_once_every_proxy_has_the_change(run: PlaybookRun) -> None:
    changed = run.result("Change the config every proxy sees")
    revision = int(changed["result"]["metadata"]["resourceVersion"])
    synced = run.result("Wait until every proxy is in sync")
    assert synced["changed"] is False and synced["synced"] is True and synced["unsynced"] == []
    (proxy,) = synced["proxies"]
    assert proxy["id"] == "ratings-v1.default" and proxy["state"] == "SYNCED"
    assert proxy["config_revision"] >= revision
    assert synced["counts"] == {"SYNCED": 1, "STALE": 0, "NOT SENT": 0}
    assert isinstance(synced["duration"], float) and len(synced["commands"]) == 1


def test_one_proxy_a_namespace_and_a_proxy_that_is_not_connected(run: PlaybookRun) -> None:
    one = run.result("Read one proxy")
    assert [p["id"] for p in one["proxies"]] == ["ratings-v1.default"] and one["synced"] is True
    assert "duration" not in one
    nowhere = run.result("Read the proxies of a namespace without any")
    assert (nowhere["proxies"], nowhere["synced"]) == ([], True)
    absent = run.result("Read a proxy that is not connected")
    assert absent["synced"] is False
    assert absent["unsynced"] == [{"id": "reviews-v1.default", "state": "NOT CONNECTED", "last_error": ""}]
    waited = run.result("Wait for a proxy that never connects")
    assert waited["msg"] == (
        "timed out after 2s waiting for the proxies to be SYNCED: reviews-v1.default is NOT CONNECTED"
    )
