"""meshlab.mesh.token in a real playbook run (playbooks/token.yml) on a real meshd data directory: register
idempotently, check mode, diff, issue, revoke by id and by value, bad input; the token is never shown."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from mesh_runtime.ca import BootstrapTokens
from tests.integration.meshd.running import Meshd
from tests.integration.plugins.ansible_run import PlaybookRun, run_playbook

EXPECTED_FAILURES = {"A bad identity", "A token too short", "Revoke without naming a token"}
REVIEWS = "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"


@pytest.fixture(scope="module")
def reviews_token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def run(meshctl_path: Path, meshd: Meshd, reviews_token: str) -> PlaybookRun:
    return run_playbook(
        "token.yml",
        {"meshctl": str(meshctl_path), "data_dir": str(meshd.data_dir), "reviews_token": reviews_token},
    )


def test_the_play_fails_exactly_where_expected_and_never_shows_the_token(
    run: PlaybookRun, reviews_token: str
) -> None:
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(run.failed_tasks()) == EXPECTED_FAILURES
    assert reviews_token not in run.stdout + run.stderr


def test_registering_is_idempotent_and_check_mode_stores_nothing(run: PlaybookRun) -> None:
    checked = run.result("Register the reviews token in check mode")
    assert (checked["changed"], checked["result"], checked["token_id"]) == (True, "created", None)
    assert checked["diff"]["before"] == "" and "default/bookinfo-reviews" in checked["diff"]["after"]
    created = run.result("Register the reviews token")
    assert (created["changed"], created["result"]) == (True, "created")
    assert created["identities"] == ["default/bookinfo-reviews"] and created["description"] == "reviews"
    assert all("--dry-run" not in c for c in created["commands"]) and "--dry-run" in checked["commands"][-1]
    again = run.result("Register the reviews token again")
    assert (again["changed"], again["result"], again["token_id"]) == (False, "unchanged", created["token_id"])
    wider = run.result("Let the reviews token allow the whole namespace")
    assert (wider["changed"], wider["result"], wider["token_id"]) == (True, "configured", created["token_id"])
    assert wider["identities"] == ["default/*"] and wider["expires"]
    assert "default/bookinfo-reviews" in wider["diff"]["before"] and "default/*" in wider["diff"]["after"]


def test_issue_and_revoke(run: PlaybookRun, meshd: Meshd, reviews_token: str) -> None:
    planned = run.result("Issue a token in check mode")
    assert (planned["changed"], planned["result"], planned["token_id"]) == (True, "created", None)
    assert "value" not in planned
    revoked = run.result("Revoke the issued token by id")
    assert (revoked["changed"], revoked["result"], revoked["identities"]) == (True, "revoked", ["shop/*"])
    assert revoked["diff"]["after"] == ""
    again = run.result("Revoke the issued token by id again")
    assert (again["changed"], again["result"]) == (False, "absent")
    by_value_checked = run.result("Revoke the reviews token by its value in check mode")
    assert (by_value_checked["changed"], by_value_checked["result"]) == (True, "revoked")
    by_value = run.result("Revoke the reviews token by its value")
    assert (by_value["changed"], by_value["result"]) == (True, "revoked")
    store = BootstrapTokens(meshd.data_dir / "bootstrap-tokens.json")
    assert not store.authorize(reviews_token, REVIEWS).allowed
    assert [g.patterns[0].namespace for g in store.grants()] == ["kept"]  # only the token kept is left


def test_an_issued_token_is_returned_once_and_works(run: PlaybookRun, meshd: Meshd) -> None:
    issued = run.result("Issue a token to keep")
    assert (issued["changed"], issued["result"], issued["identities"]) == (True, "created", ["kept/*"])
    store = BootstrapTokens(meshd.data_dir / "bootstrap-tokens.json")
    assert [g.token_id for g in store.grants()] == [issued["token_id"]]
    assert store.authorize(issued["value"], "spiffe://cluster.local/ns/kept/sa/any").allowed
    assert issued["value"] not in json.dumps(issued["commands"])
    assert run.result("Issue a token")["censored"]  # no_log on the task, as the documentation advises


def test_bad_input_fails_naming_the_field(run: PlaybookRun, reviews_token: str) -> None:
    identity = run.result("A bad identity")["msg"]
    assert identity.startswith("identities: meshd token create rejected its arguments (exit 64")
    assert "--identity: identity pattern 'no-slash'" in identity
    short = run.result("A token too short")["msg"]
    assert short.startswith("value: meshd token add rejected its arguments (exit 64")
    assert "--token-file stdin: a bootstrap token needs at least 22 characters, this one has 5" in short
    nothing = run.result("Revoke without naming a token")["msg"]
    assert nothing == "state=absent needs token_id (as meshd token list shows it) or value (the token)"
