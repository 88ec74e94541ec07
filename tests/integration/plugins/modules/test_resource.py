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
    dry_run, apply, read = result["commands"]
    assert "--dry-run" in dry_run and "--dry-run" not in apply and read[1] == "get"
    assert result["result"]["results"][1]["method"] == "create" and result["result"]["results"][1]["changed"]
    stored = [entry["result"] for entry in result["result"]["results"]]
    assert [doc["metadata"]["name"] for doc in stored] == list(RULES)
    assert all(doc["status"]["conditions"][0]["type"] == "Reconciled" for doc in stored)


def test_a_second_apply_is_unchanged_and_applies_nothing(run: PlaybookRun) -> None:
    result = run.result("Apply the rules again")
    assert result["changed"] is False
    assert outcomes(result) == every_rule("unchanged")
    dry_run, read = result["commands"]  # the dry run, then the read of the result: nothing applied
    assert "--dry-run" in dry_run and read[1] == "get"
    assert [r["method"] for r in result["result"]["results"]] == ["replace"] * len(RULES)


def test_check_mode_predicts_configured_with_a_diff_and_changes_nothing(run: PlaybookRun) -> None:
    result = run.result("Keep only reviews v1 in check mode")
    assert result["changed"] is True
    assert outcomes(result) == [("DestinationRule", "default", "reviews", "configured")]
    assert all("--dry-run" in command or command[1] == "get" for command in result["commands"])
    assert subsets(result["result"]) == ["v1"] and result["method"] == "replace"  # as it would be
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
    assert subsets(result["result"]) == ["v1"] and result["result"]["metadata"]["resourceVersion"]
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
    (dry_run,) = result["commands"]  # refused by the dry run: nothing else ran
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
    assert listing.code == 0 and json.loads(listing.stdout)["items"] == []
    assert deleted["result"]["results"][0]["result"]["spec"]["host"] == "productpage"  # as it was
    assert {r["method"] for r in deleted["result"]["results"]} == {"delete"}


def test_a_whole_run_in_check_mode_changes_nothing(
    run: PlaybookRun, config_api: dict[str, str], rules: Path, meshd: Meshd
) -> None:
    checked = run_playbook("resource.yml", {**config_api, "rules": str(rules)}, check=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert outcomes(checked.result("Apply the rules")) == every_rule("created")
    assert outcomes(checked.result("Apply the rules again")) == every_rule("created")
    assert outcomes(checked.result("Delete the rules again")) == every_rule("absent")
    assert json.loads(meshd.meshctl("get", "destinationrules", "-A", "-o", "json").stdout)["items"] == []


# -- on a running mesh: wait, apply, patched, template, delete by name, refusals (playbooks/resource_lab.yml)

LAB_FAILURES = {
    "A template and a definition",
    "A template setting that does not exist",
    "A template rendered with other delimiters",
    "A missing template",
    "A wait condition on a Service",
    "An unknown kind",
    "An unknown kind to merge",
    "An unknown kind to delete",
    "Delete by kind without a name",
    "A wait that cannot be met",
}


@pytest.fixture(scope="module")
def lab_run(lab_api: dict[str, str]) -> PlaybookRun:
    return run_playbook("resource_lab.yml", lab_api)


def reconciled(document: dict[str, Any]) -> dict[str, Any]:
    (condition,) = [c for c in document["status"]["conditions"] if c["type"] == "Reconciled"]
    return dict(condition)


def test_the_lab_play_fails_exactly_where_expected(lab_run: PlaybookRun) -> None:
    assert lab_run.returncode == 0, lab_run.stdout + lab_run.stderr
    assert set(lab_run.failed_tasks()) == LAB_FAILURES
    assert lab_run.stats["rescued"] == len(LAB_FAILURES)


def test_wait_returns_the_rule_once_the_proxy_serves_it(lab_run: PlaybookRun) -> None:
    created = lab_run.result("Create the ratings rule and wait for it")
    assert created["changed"] is True and created["method"] == "create"
    assert isinstance(created["duration"], float)
    rule = created["result"]
    assert rule["metadata"]["name"] == "ratings" and rule["spec"]["host"] == "ratings"
    assert reconciled(rule) == {
        "type": "Reconciled",
        "status": "True",
        "reason": "ProxiesUpToDate",
        "message": "1/1 proxies up to date.",
    }
    # The proxy's sync state agrees: it is SYNCED with a config built at the rule's revision or later.
    (proxy,) = lab_run.result("Read the proxies after the wait")["proxies"]
    assert proxy["id"] == "ratings-v1.default" and proxy["state"] == "SYNCED"
    assert proxy["config_revision"] >= int(rule["metadata"]["resourceVersion"])


def test_apply_merges_into_the_live_object_and_keeps_the_rest(lab_run: PlaybookRun) -> None:
    checked = lab_run.result("Merge a label and a traffic policy into the rule in check mode")
    merged = lab_run.result("Merge a label and a traffic policy into the rule")
    assert checked["changed"] is True and checked["method"] == "apply"
    assert merged["changed"] is True and merged["method"] == "apply"
    assert checked["diff"] == merged["diff"]
    (diff,) = merged["diff"]
    assert "tier: back" not in diff["before"] and "tier: back" in diff["after"]
    assert "mode: ISTIO_MUTUAL" in diff["after"] and "- name: v1" in diff["after"]  # the subsets stay
    rule = merged["result"]
    assert rule["metadata"]["labels"] == {"app": "ratings", "team": "a", "tier": "back"}
    assert rule["spec"]["subsets"] == [{"name": "v1", "labels": {"version": "v1"}}]
    assert rule["spec"]["trafficPolicy"] == {"tls": {"mode": "ISTIO_MUTUAL"}}
    assert reconciled(rule)["status"] == "True"
    again = lab_run.result("Merge the same again")
    assert again["changed"] is False and [r["result"] for r in again["resources"]] == ["unchanged"]


def test_patched_merges_a_null_away_and_never_creates(lab_run: PlaybookRun) -> None:
    patched = lab_run.result("Patch a label away")
    assert patched["changed"] is True and patched["method"] == "patch"
    assert patched["result"]["metadata"]["labels"] == {"app": "ratings", "tier": "back"}
    missing = lab_run.result("Patch a rule that does not exist")
    assert missing["changed"] is False
    assert [(r["name"], r["result"]) for r in missing["resources"]] == [("nowhere", "absent")]
    assert any("DestinationRule default/nowhere was not found" in w for w in missing["warnings"])
    rules = lab_run.result("Read the rules after patching")["resources"]
    assert sorted(r["metadata"]["name"] for r in rules) == ["ratings"]


def test_a_template_is_rendered_with_the_plays_variables(lab_run: PlaybookRun) -> None:
    routed = lab_run.result("Route ratings to v1 from a template")
    assert routed["changed"] is True
    route = routed["result"]
    assert route["metadata"]["labels"] == {"rendered-for": "localhost"}
    assert route["spec"]["http"][0]["route"][0]["destination"] == {"host": "ratings", "subset": "v1"}
    assert reconciled(route)["reason"] == "ProxiesUpToDate"
    other = lab_run.result("A template rendered with other delimiters")
    assert other["msg"].startswith(
        "meshctl apply refused the template ratings-route.yaml.j2, nothing was changed"
    )
    # {{ }} left as it is is no YAML scalar: meshctl names the template and the line of the rendered text.
    assert "\ntemplate ratings-route.yaml.j2:7: invalid YAML" in other["msg"]


def test_templates_in_a_list_make_one_input_and_bad_template_options_are_refused(
    lab_run: PlaybookRun,
) -> None:
    both = lab_run.result("Two templates in one input")
    assert [(r["name"], r["result"]) for r in both["resources"]] == [
        ("ratings", "unchanged"),
        ("reviews-from-template", "created"),
    ]
    assert both["result"]["results"][1]["result"]["spec"] == {"host": "reviews"}
    conflict = lab_run.result("A template and a definition")["msg"]
    assert conflict == "template: give one of definition, src and template, not template and definition"
    unknown = lab_run.result("A template setting that does not exist")["msg"]
    assert unknown.startswith("template: unknown settings colour; known: path, variable_start_string")


def test_several_resources_return_results_and_kinds_without_status_only_need_to_exist(
    lab_run: PlaybookRun,
) -> None:
    both = lab_run.result("Two resources with a wait")
    rule, service = both["result"]["results"]
    assert (rule["method"], service["method"]) == ("create", "create")
    assert reconciled(rule["result"])["status"] == "True"
    assert service["result"]["kind"] == "Service" and "status" not in service["result"]


def test_bad_input_fails_clearly_before_anything_changes(lab_run: PlaybookRun) -> None:
    missing = lab_run.result("A missing template")["msg"]
    assert missing.startswith("template: no-such-template.yaml.j2 was not found on the controller")
    service = lab_run.result("A wait condition on a Service")
    assert service["msg"].startswith("wait_condition: Service default/details has no status conditions")
    assert "nothing was changed" in service["msg"] and service["changed"] is False
    assert lab_run.result("Read the details Service after the refused wait condition")["resources"] == []
    typo = lab_run.result("An unknown kind")["msg"]
    assert "VirtualServce" in typo and "nothing was changed" in typo
    deployment = lab_run.result("An unknown kind to merge")["msg"]
    assert deployment.startswith(
        "definition: Deployment (apps) is not a kind meshd stores, nothing was changed"
    )
    delete = lab_run.result("An unknown kind to delete")["msg"]
    assert delete.startswith("kind: VirtualServce is not a kind meshd stores, nothing was changed")
    no_name = lab_run.result("Delete by kind without a name")["msg"]
    assert no_name.startswith("name: required to delete a VirtualService by kind and name")


def test_a_wait_that_cannot_be_met_times_out_saying_what_is_missing(lab_run: PlaybookRun) -> None:
    result = lab_run.result("A wait that cannot be met")
    assert result["msg"].startswith("timed out after 2s waiting for the resources to be ready")
    assert (
        "DestinationRule default/ratings Reconciled is True (ProxiesUpToDate, 1/1 proxies up to date.), "
        "waiting for reason ProxyRejected"
    ) in result["msg"]
    assert result["changed"] is False  # the rule was already as given


def test_delete_by_kind_and_name(lab_run: PlaybookRun, lab_api: dict[str, str]) -> None:
    checked = lab_run.result("Delete the route by kind and name in check mode")
    assert checked["changed"] is True and checked["method"] == "delete"
    assert checked["result"]["metadata"]["name"] == "ratings"  # as it is, still
    deleted = lab_run.result("Delete the route by kind and name")
    assert deleted["changed"] is True and "duration" in deleted
    (dry_run, _read, delete, *_) = deleted["commands"]
    assert (
        dry_run[1:4] == ["delete", "VirtualService.networking.istio.io", "ratings"] and "--dry-run" in dry_run
    )
    assert "--dry-run" not in delete
    (diff,) = deleted["diff"]
    assert "subset: v1" in diff["before"] and diff["after"] == ""
    again = lab_run.result("Delete the route by kind and name again")
    assert again["changed"] is False and [r["result"] for r in again["resources"]] == ["absent"]
