"""cli/selectors.py: kubectl's label and field selectors, parsed and matched against documents."""

from __future__ import annotations

from typing import Any

import pytest

from mesh_runtime.cli.selectors import (
    FieldRequirement,
    LabelRequirement,
    parse_field_selector,
    parse_label_selector,
    selector,
    split_requirements,
)
from mesh_runtime.command.errors import EXIT_USAGE, CommandError


def pod(name: str, labels: dict[str, str], node: str = "", namespace: str = "default") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": "Running"},
    }


PODS = [
    pod("reviews-v1", {"app": "reviews", "version": "v1"}, node="node01"),
    pod("reviews-v2", {"app": "reviews", "version": "v2"}, node="node02"),
    pod("ratings-v1", {"app": "ratings", "version": "v1"}, node="node01", namespace="shop"),
    pod("legacy", {"app": "legacy"}),
]


def names(documents: list[dict[str, Any]]) -> list[str]:
    return [d["metadata"]["name"] for d in documents]


def test_commas_inside_parentheses_do_not_split() -> None:
    assert split_requirements("app in (a,b), version") == ["app in (a,b)", "version"]


def test_every_kind_of_label_requirement_parses() -> None:
    assert parse_label_selector("app=reviews,version==v1,tier!=web,canary,!legacy") == (
        LabelRequirement("app", "=", ("reviews",)),
        LabelRequirement("version", "=", ("v1",)),
        LabelRequirement("tier", "!=", ("web",)),
        LabelRequirement("canary", "exists"),
        LabelRequirement("legacy", "!"),
    )
    assert parse_label_selector("version in (v1, v2),app notin (legacy)") == (
        LabelRequirement("version", "in", ("v1", "v2")),
        LabelRequirement("app", "notin", ("legacy",)),
    )
    assert parse_label_selector("") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app=reviews", ["reviews-v1", "reviews-v2"]),
        ("app=reviews,version!=v1", ["reviews-v2"]),
        ("version", ["reviews-v1", "reviews-v2", "ratings-v1"]),
        ("!version", ["legacy"]),
        ("version in (v2,v3)", ["reviews-v2"]),
        ("app notin (reviews,ratings)", ["legacy"]),
        ("version!=v1", ["reviews-v2", "legacy"]),  # a label that is not there is not v1
    ],
)
def test_label_selectors_select_as_kubernetes_does(text: str, expected: list[str]) -> None:
    assert names(selector(text, None, "Pod").select(PODS)) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("app=reviews,", "it is empty"),
        ("app in ()", "needs at least one value"),
        ("app = a b", "write key, !key"),
        ("-app=x", 'label key "-app" is invalid'),
        ("app=-x", 'label value "-x" is invalid'),
    ],
)
def test_a_label_selector_that_cannot_be_parsed_is_a_usage_error(text: str, complaint: str) -> None:
    with pytest.raises(CommandError, match=complaint) as caught:
        parse_label_selector(text)
    assert caught.value.code == EXIT_USAGE
    assert str(caught.value).startswith(f"--selector {text!r}: unable to parse requirement")


def test_field_selectors_select_by_name_namespace_and_the_pod_fields() -> None:
    assert parse_field_selector("metadata.name==reviews-v1", "Pod") == (
        FieldRequirement("metadata.name", "=", "reviews-v1"),
    )
    assert names(selector(None, "spec.nodeName=node01", "Pod").select(PODS)) == ["reviews-v1", "ratings-v1"]
    assert names(selector(None, "metadata.namespace!=default", "Pod").select(PODS)) == ["ratings-v1"]
    both = selector("app=reviews", "spec.nodeName=node02,status.phase=Running", "Pod")
    assert names(both.select(PODS)) == ["reviews-v2"]
    assert not selector(None, "", "VirtualService")


def test_a_field_a_kind_cannot_be_selected_by_is_refused_naming_the_fields_it_can() -> None:
    with pytest.raises(CommandError) as caught:
        parse_field_selector("spec.host=reviews", "DestinationRule")
    assert caught.value.code == EXIT_USAGE
    assert (
        "field label not supported: spec.host (DestinationRule supports metadata.name, metadata.namespace)"
        in (str(caught.value))
    )
    with pytest.raises(CommandError, match="invalid selector 'metadata.name'"):
        parse_field_selector("metadata.name", "Pod")
