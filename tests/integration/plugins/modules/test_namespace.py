"""meshlab.mesh.namespace in a real playbook run (playbooks/namespace.yml) against a real meshd and meshctl.

The playbook creates a namespace with labels (in check mode first), repeats it, changes and removes labels
(each repeated to show it is idempotent), tries an invalid label, and deletes the namespace.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.meshd.running import Meshd
from tests.integration.plugins.ansible_run import PlaybookRun, run_playbook

EXPECTED_FAILURES = {"Invalid label"}


@pytest.fixture(scope="module")
def run(config_api: dict[str, str]) -> PlaybookRun:
    return run_playbook("namespace.yml", config_api)


def test_the_play_fails_exactly_where_expected(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(run.failed_tasks()) == EXPECTED_FAILURES
    assert run.stats["rescued"] == len(EXPECTED_FAILURES)


def test_check_mode_predicts_the_creation_and_creates_nothing(run: PlaybookRun) -> None:
    result = run.result("Create bookinfo in check mode")
    assert (result["changed"], result["result"]) == (True, "created")
    assert result["labels"] == {"istio-injection": "enabled"}
    assert result["diff"]["before"] == ""
    assert "istio-injection: enabled" in result["diff"]["after"]
    # It was created for real by the next task, so check mode did not create it.
    assert run.result("Create bookinfo")["result"] == "created"


def test_create_with_labels_then_unchanged(run: PlaybookRun) -> None:
    created = run.result("Create bookinfo")
    assert created["changed"] is True
    assert created["labels"] == {"istio-injection": "enabled", "team": "shop"}
    assert created["diff"]["after"] == (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n  labels:\n"
        "    istio-injection: enabled\n    team: shop\n"
    )
    again = run.result("Create bookinfo again")
    assert (again["changed"], again["result"]) == (False, "unchanged")
    assert again["labels"] == {"istio-injection": "enabled", "team": "shop"}  # team is kept
    assert [command[1] for command in again["commands"]] == ["get"]


def test_changing_and_removing_labels(run: PlaybookRun) -> None:
    predicted = run.result("Change a label in check mode")
    assert (predicted["changed"], predicted["result"]) == (True, "configured")
    assert not any(command[1] == "label" for command in predicted["commands"])
    changed = run.result("Change a label")
    assert (changed["changed"], changed["result"]) == (True, "configured")
    assert changed["labels"] == {"istio-injection": "disabled", "team": "shop"}
    assert "istio-injection: enabled" in changed["diff"]["before"]
    assert "istio-injection: disabled" in changed["diff"]["after"]
    removed = run.result("Remove a label")
    assert (removed["changed"], removed["labels"]) == (True, {"istio-injection": "disabled"})
    assert "team: shop" in removed["diff"]["before"] and "team" not in removed["diff"]["after"]
    again = run.result("Remove a label again")
    assert (again["changed"], again["result"]) == (False, "unchanged")


def test_an_invalid_label_fails_naming_it_and_changes_nothing(run: PlaybookRun) -> None:
    result = run.result("Invalid label")
    assert result["failed"] is True
    assert result["msg"].startswith(
        "meshctl apply refused the namespace, nothing was changed:\nNamespace bookinfo: "
    )
    assert "metadata.labels" in result["msg"] and "bad key!" in result["msg"]
    assert [command[1] for command in result["commands"]] == ["get", "apply"]
    assert "--dry-run" in result["commands"][1]
    stored = json.loads(run.result("Read bookinfo")["stdout"])
    assert stored["metadata"]["labels"] == {"istio-injection": "disabled"}


def test_delete_then_absent(run: PlaybookRun, meshd: Meshd) -> None:
    predicted = run.result("Delete bookinfo in check mode")
    assert (predicted["changed"], predicted["result"]) == (True, "deleted")
    deleted = run.result("Delete bookinfo")
    assert (deleted["changed"], deleted["result"], deleted["labels"]) == (True, "deleted", None)
    assert deleted["diff"]["after"] == ""
    again = run.result("Delete bookinfo again")
    assert (again["changed"], again["result"]) == (False, "absent")
    assert meshd.meshctl("get", "namespace", "bookinfo").code == 1
