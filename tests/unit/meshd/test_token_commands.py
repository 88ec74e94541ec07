"""meshd token create|add|list|revoke: JSON output, dry runs, revoking by id or by token, stdin."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mesh_runtime.ca import BootstrapTokens
from mesh_runtime.meshd.main import run

TOKEN = "Zq3mX8rT-v1Lp_N4wYb7Kc2Hd5Fg9Js0AeUiOo6RtQw"
IDENTITY = "spiffe://cluster.local/ns/default/sa/productpage"


def meshd(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def json_of(*argv: str) -> Any:
    code, out, err = meshd(*argv, "-o", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "meshd"
    assert meshd("init", "--data-dir", str(root))[0] == 0
    return root


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "productpage.token"
    path.write_text(TOKEN + "\n")
    return path


def store(root: Path) -> BootstrapTokens:
    return BootstrapTokens(root / "bootstrap-tokens.json")


def test_create_in_json_prints_the_token_once_and_its_grant(root: Path) -> None:
    created = json_of("token", "create", "--data-dir", str(root), "--identity", "default/x", "--ttl", "1h")
    assert created["result"] == "created" and created["dry_run"] is False
    assert created["identities"] == ["default/x"] and created["expires"] and created["expired"] is False
    assert store(root).authorize(created["token"], "spiffe://cluster.local/ns/default/sa/x").allowed
    listed = json_of("token", "list", "--data-dir", str(root))["tokens"]
    assert [t["id"] for t in listed] == [created["id"]]
    assert created["token"] not in json.dumps(listed)


def test_create_as_a_dry_run_checks_and_stores_nothing(root: Path) -> None:
    checked = json_of("token", "create", "--data-dir", str(root), "--identity", "default/x", "--dry-run")
    assert (checked["result"], checked["id"], checked["token"], checked["dry_run"]) == (
        "created",
        None,
        None,
        True,
    )
    assert store(root).grants() == []
    code, _, err = meshd("token", "create", "--data-dir", str(root), "--identity", "bad", "--dry-run")
    assert code == 64 and "--identity: identity pattern 'bad'" in err


def test_add_reports_created_unchanged_configured_and_a_dry_run_changes_nothing(
    root: Path, token_file: Path
) -> None:
    add = ("token", "add", "--data-dir", str(root), "--token-file", str(token_file))
    planned = json_of(*add, "--identity", "default/productpage", "--dry-run")
    assert (planned["result"], planned["id"]) == ("created", None)
    assert store(root).grants() == []
    created = json_of(*add, "--identity", "default/productpage", "--description", "pp")
    assert created["result"] == "created" and created["description"] == "pp"
    again = json_of(*add, "--identity", "default/productpage", "--description", "pp")
    assert (again["result"], again["id"]) == ("unchanged", created["id"])
    changing = json_of(*add, "--identity", "prod/*", "--description", "pp", "--dry-run")
    assert (changing["result"], changing["identities"]) == ("configured", ["prod/*"])
    assert store(root).authorize(TOKEN, IDENTITY).allowed  # the dry run kept the grant as it was


def test_add_reads_the_token_from_stdin(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"  {TOKEN}\n"))
    code, out, _ = meshd(
        "token", "add", "--data-dir", str(root), "--token-file", "-", "--identity", "default/productpage"
    )
    assert code == 0 and out.startswith("created ")
    assert store(root).authorize(TOKEN, IDENTITY).allowed
    monkeypatch.setattr("sys.stdin", io.StringIO("short"))
    code, _, err = meshd("token", "add", "--data-dir", str(root), "--token-file", "-", "--identity", "a/b")
    assert code == 64 and "--token-file stdin: a bootstrap token needs at least 22 characters" in err


def test_revoke_by_id_or_by_token_with_dry_run_and_ignore_not_found(root: Path, token_file: Path) -> None:
    add = (
        "token",
        "add",
        "--data-dir",
        str(root),
        "--token-file",
        str(token_file),
        "--identity",
        "default/*",
    )
    token_id = json_of(*add)["id"]
    other = json_of("token", "create", "--data-dir", str(root), "--identity", "prod/*")["id"]
    revoke = ("token", "revoke", "--data-dir", str(root))
    planned = json_of(*revoke, "--token-file", str(token_file), "--dry-run")
    assert planned == {"results": [{"id": token_id, "result": "revoked"}], "dry_run": True}
    assert store(root).authorize(TOKEN, IDENTITY).allowed
    assert json_of(*revoke, "--token-file", str(token_file))["results"] == [
        {"id": token_id, "result": "revoked"}
    ]
    assert not store(root).authorize(TOKEN, IDENTITY).allowed
    code, _, err = meshd(*revoke, "--token-file", str(token_file))
    assert code == 1 and f"bootstrap token in {token_file} not found" in err
    gone = json_of(*revoke, "--token-file", str(token_file), "--ignore-not-found")
    assert gone["results"] == [{"id": None, "result": "absent"}]
    code, out, _ = meshd(*revoke, other)
    assert (code, out) == (0, f"revoked {other}\n")
    code, _, err = meshd(*revoke, other)
    assert code == 1 and f'bootstrap token "{other}" not found' in err
    code, _, err = meshd(*revoke)
    assert code == 64 and "give the ids of the tokens to revoke, or --token-file" in err


def test_list_without_tokens_and_output_errors(root: Path) -> None:
    assert json_of("token", "list", "--data-dir", str(root)) == {"tokens": []}
    code, out, err = meshd("token", "list", "--data-dir", str(root))
    assert (code, out, err) == (0, "", "No bootstrap tokens found.\n")
    code, _, err = meshd("token", "list", "--data-dir", str(root), "-o", "yaml")
    assert code == 64 and "--output must be 'json'" in err
