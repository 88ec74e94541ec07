"""plugins/module_utils/merge.py: a JSON merge patch (RFC 7386), as apply and state=patched merge."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.meshlab.mesh.plugins.module_utils.merge import merge_patch

LIVE: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "reviews", "labels": {"app": "reviews", "team": "a"}},
    "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]},
}


def test_fields_given_are_merged_and_the_others_kept() -> None:
    merged = merge_patch(
        LIVE, {"metadata": {"labels": {"team": "b", "tier": "back"}}, "spec": {"gateways": ["gw"]}}
    )
    assert merged["metadata"] == {
        "name": "reviews",
        "labels": {"app": "reviews", "team": "b", "tier": "back"},
    }
    assert merged["spec"] == {**LIVE["spec"], "gateways": ["gw"]}


def test_a_null_removes_a_key_and_a_list_is_replaced_whole() -> None:
    merged = merge_patch(LIVE, {"metadata": {"labels": {"team": None}}, "spec": {"hosts": ["reviews.prod"]}})
    assert merged["metadata"]["labels"] == {"app": "reviews"}
    assert merged["spec"]["hosts"] == ["reviews.prod"]
    assert merge_patch(LIVE, {"spec": None}).get("spec") is None


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [  # RFC 7386's examples (appendix A), a few of them
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "foo"}, "bar", "bar"),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_rfc_7386_examples(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_neither_side_is_changed() -> None:
    live, patch = copy.deepcopy(LIVE), {"metadata": {"labels": {"team": None}}}
    merged = merge_patch(live, patch)
    merged["spec"]["hosts"].append("x")
    assert live == LIVE and patch == {"metadata": {"labels": {"team": None}}}
