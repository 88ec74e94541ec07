"""meshlab.mesh.resource_info in a real playbook run (playbooks/resource_info.yml) against a real mesh:
one resource by name, lists by kind and namespace, label and field selectors, pods, unknown kinds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.plugins.ansible_run import PlaybookRun, run_playbook

EXPECTED_FAILURES = {"A field meshd cannot select by", "A name with a selector"}


@pytest.fixture(scope="module")
def run(lab_api: dict[str, str]) -> PlaybookRun:
    return run_playbook("resource_info.yml", lab_api)


def names(result: dict[str, Any]) -> list[str]:
    return [r["metadata"]["name"] for r in result["resources"]]


def test_the_play_fails_exactly_where_expected(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(run.failed_tasks()) == EXPECTED_FAILURES
    assert all(result["changed"] is False for name, result in run.results.items() if "resource_info" in name)


def test_one_resource_by_name_with_its_status(run: PlaybookRun) -> None:
    found = run.result("Get one rule by name")
    (rule,) = found["resources"]
    assert found["api_found"] is True and rule["spec"] == {"host": "reviews"}
    assert rule["status"]["conditions"][0]["type"] == "Reconciled"
    assert "--ignore-not-found" in found["command"]
    assert run.result("Get a rule that does not exist")["resources"] == []


def test_lists_by_namespace_and_selectors(run: PlaybookRun) -> None:
    assert names(run.result("List the rules of every namespace")) == ["ratings", "reviews", "productpage"]
    assert names(run.result("List the rules of one namespace")) == ["productpage"]
    assert names(run.result("List with label selectors")) == ["ratings"]
    assert names(run.result("List with a field selector")) == ["productpage"]
    (pod,) = run.result("List the pods of ratings")["resources"]
    assert pod["kind"] == "Pod" and pod["metadata"]["name"] == "ratings-v1"
    assert "default" in names(run.result("List in check mode"))


def test_a_kind_meshd_does_not_store_is_no_api_with_a_warning(run: PlaybookRun) -> None:
    result = run.result("List a kind meshd does not store")
    assert (result["api_found"], result["resources"]) == (False, [])
    assert any(w.startswith("kind: Deployment is not a kind meshd stores") for w in result["warnings"])


def test_selectors_that_cannot_work_fail_naming_them(run: PlaybookRun) -> None:
    field = run.result("A field meshd cannot select by")["msg"]
    assert field.startswith("label_selectors or field_selectors: meshctl get rejected its arguments")
    assert "field label not supported: spec.host" in field
    both = run.result("A name with a selector")["msg"]
    assert both.startswith("name: cannot be combined with label_selectors or field_selectors")
