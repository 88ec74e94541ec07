"""meshlab.mesh.resource in a real playbook run (playbooks/resource.yml) against a real meshd and meshctl.

The playbook applies Bookinfo's destination-rule-all-mtls.yaml, applies it again, changes one rule (in check
mode first), tries an invalid resource, and deletes the rules (in check mode first, then twice). Its
`command` tasks read the store with meshctl get between the steps that must not change it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.meshd.running import Meshd
from tests.integration.plugins.ansible_run import PlaybookRun, run_playbook

RULES = ("productpage", "reviews", "ratings", "details")
EXPECTED_FAILURES = {"Invalid resource"}


@pytest.fixture(scope="module")
def rules(istio_reference: Path) -> Path:
    return istio_reference / "bookinfo" / "networking" / "destination-rule-all-mtls.yaml"


@pytest.fixture(scope="module")
def run(config_api: dict[str, str], rules: Path) -> PlaybookRun:
    return run_playbook("resource.yml", {**config_api, "rules": str(rules)})


def outcomes(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(r["kind"], r["namespace"], r["name"], r["result"]) for r in result["resources"]]


def every_rule(outcome: str) -> list[tuple[str, str, str, str]]:
    return [("DestinationRule", "default", name, outcome) for name in RULES]


def stored(result: dict[str, Any]) -> Any:
    return json.loads(result["stdout"])


def subsets(document: dict[str, Any]) -> list[str]:
    return [subset["name"] for subset in document["spec"]["subsets"]]


def test_the_play_fails_exactly_where_expected(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(run.failed_tasks()) == EXPECTED_FAILURES
    assert run.stats["rescued"] == len(EXPECTED_FAILURES)


def test_the_first_apply_creates_every_rule(run: PlaybookRun) -> None:
    result = run.result("Apply the rules")
    assert result["changed"] is True
    assert outcomes(result) == every_rule("created")
    assert all(r["api_group"] == "networking.istio.io" for r in result["resources"])
    dry_run, apply = result["commands"]
    assert "--dry-run" in dry_run and "--dry-run" not in apply


def test_a_second_apply_is_unchanged_and_applies_nothing(run: PlaybookRun) -> None:
    result = run.result("Apply the rules again")
    assert result["changed"] is False
    assert outcomes(result) == every_rule("unchanged")
    assert len(result["commands"]) == 1 and "--dry-run" in result["commands"][0]


def test_check_mode_predicts_configured_with_a_diff_and_changes_nothing(run: PlaybookRun) -> None:
    result = run.result("Keep only reviews v1 in check mode")
    assert result["changed"] is True
    assert outcomes(result) == [("DestinationRule", "default", "reviews", "configured")]
    assert all("--dry-run" in command or command[1] == "get" for command in result["commands"])
    (diff,) = result["diff"]
    assert diff["before_header"] == "DestinationRule default/reviews"
    assert "- name: v3" in diff["before"] and "- name: v3" not in diff["after"]
    assert "resourceVersion" not in diff["before"] and "namespace: default" in diff["after"]
    assert subsets(stored(run.result("Read reviews after check mode"))) == ["v1", "v2", "v3"]


def test_a_change_is_configured_with_the_diff_check_mode_predicted(run: PlaybookRun) -> None:
    result = run.result("Keep only reviews v1")
    assert result["changed"] is True
    assert outcomes(result) == [("DestinationRule", "default", "reviews", "configured")]
    assert result["diff"] == run.result("Keep only reviews v1 in check mode")["diff"]
    again = run.result("Keep only reviews v1 again, as YAML text")
    assert again["changed"] is False
    assert outcomes(again) == [("DestinationRule", "default", "reviews", "unchanged")]
    assert "diff" not in again or not again["diff"]


def test_an_invalid_resource_fails_with_the_field_path_and_stores_nothing(run: PlaybookRun) -> None:
    result = run.result("Invalid resource")
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("meshctl apply refused the definition, nothing was changed:\n")
    assert "DestinationRule default/reviews: spec.trafficPolicy.tls.mode: must be one of" in result["msg"]
    (error,) = result["errors"]
    assert error["path"] == "spec.trafficPolicy.tls.mode"
    assert result["rc"] == 65
    (dry_run,) = result["commands"]
    assert "--dry-run" in dry_run
    items = stored(run.result("Read destination rules after the invalid resource"))["items"]
    assert sorted(item["metadata"]["name"] for item in items) == sorted(RULES)  # no "fresh"
    reviews = next(item for item in items if item["metadata"]["name"] == "reviews")
    assert reviews["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL"
    assert subsets(reviews) == ["v1"]


def test_delete_in_check_mode_predicts_and_deletes_nothing(run: PlaybookRun) -> None:
    result = run.result("Delete the rules in check mode")
    assert result["changed"] is True
    assert outcomes(result) == every_rule("deleted")
    assert [d["after"] for d in result["diff"]] == ["", "", "", ""]
    assert "host: ratings" in result["diff"][2]["before"]
    items = stored(run.result("Read destination rules after deleting in check mode"))["items"]
    assert len(items) == len(RULES)


def test_delete_then_absent(run: PlaybookRun, meshd: Meshd) -> None:
    deleted = run.result("Delete the rules")
    assert deleted["changed"] is True
    assert outcomes(deleted) == every_rule("deleted")
    assert deleted["diff"] == run.result("Delete the rules in check mode")["diff"]
    again = run.result("Delete the rules again")
    assert again["changed"] is False
    assert outcomes(again) == every_rule("absent")
    listing = meshd.meshctl("get", "destinationrules", "-A", "-o", "json")
    assert listing.code == 0 and listing.stdout == ""


def test_a_whole_run_in_check_mode_changes_nothing(
    run: PlaybookRun, config_api: dict[str, str], rules: Path, meshd: Meshd
) -> None:
    checked = run_playbook("resource.yml", {**config_api, "rules": str(rules)}, check=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert outcomes(checked.result("Apply the rules")) == every_rule("created")
    assert outcomes(checked.result("Apply the rules again")) == every_rule("created")
    assert outcomes(checked.result("Delete the rules again")) == every_rule("absent")
    assert meshd.meshctl("get", "destinationrules", "-A", "-o", "json").stdout == ""
