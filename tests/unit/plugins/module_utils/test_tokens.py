"""plugins/module_utils/tokens.py: what each state needs, meshd's errors named by option, grant views."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.meshlab.mesh.plugins.module_utils import runner, tokens


def params(**given: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"state": "present", "value": None, "identities": None, "token_id": None}
    found.update(given)
    return found


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ({}, "identities: required with state=present"),
        ({"identities": ["a/b"], "token_id": "x"}, "token_id: names a token to revoke"),
        ({"state": "absent"}, "state=absent needs token_id"),
    ],
)
def test_each_state_gets_what_it_needs(given: dict[str, Any], complaint: str) -> None:
    with pytest.raises(runner.MeshctlError, match=complaint):
        tokens.check_options(params(**given))


def test_meshds_usage_errors_name_the_option() -> None:
    interpret = tokens.interpret_json("meshd token add")
    with pytest.raises(runner.MeshctlError) as caught:
        interpret(
            64, "", "meshd: error: --token-file stdin: a bootstrap token needs at least 22 characters", {}
        )
    assert caught.value.msg.startswith("value: meshd token add rejected its arguments (exit 64")
    with pytest.raises(runner.MeshctlError) as caught:
        interpret(64, "", "meshd: error: --ttl: 'soon' is not a positive duration", {})
    assert caught.value.msg.startswith("ttl: ")
    with pytest.raises(runner.MeshctlError) as caught:
        interpret(1, "", "meshd: error: /d is not a meshd data directory", {})
    assert caught.value.msg.startswith("meshd token add failed (exit 1)")
    assert interpret(0, '{"result": "created"}', "", {}) == {"result": "created"}


def test_a_grant_is_shown_without_anything_secret() -> None:
    grant = {
        "id": "ab",
        "identities": ["a/b"],
        "created": "t",
        "expires": None,
        "description": "",
        "token": "s",
    }
    assert tokens.grant_view(grant) == {
        "id": "ab",
        "identities": ["a/b"],
        "created": "t",
        "expires": None,
        "description": "",
    }
    assert tokens.grant_view(None) is None
