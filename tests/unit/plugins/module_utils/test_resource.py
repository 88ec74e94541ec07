"""plugins/module_utils/resource.py: the resource module's input, commands, checks and predictions.

The flows that run meshctl (dry run, apply, merge, wait) are driven against a real meshd by
tests/integration/plugins/modules/test_resource.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.meshlab.mesh.plugins.module_utils import resource, runner

DR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "reviews"},
    "spec": {"host": "reviews"},
}


def result(
    name: str, outcome: str, kind: str = "DestinationRule", namespace: str = "default"
) -> dict[str, Any]:
    group = "" if kind in ("Namespace", "Service") else "networking.istio.io"
    return {"kind": kind, "group": group, "namespace": namespace, "name": name, "result": outcome}


def params(**given: Any) -> dict[str, Any]:
    found: dict[str, Any] = {name: None for name in ("src", "definition", "template", "kind", "name")}
    found.update(state="present", namespace=None, api_version=None)
    found.update(given)
    return found


def test_resource_commands_probe_then_act() -> None:
    given = {"namespace": "prod", "control_plane": "cp"}
    assert resource.resource_command("meshctl", "apply", given, ["-f", "-"], True) == [
        "meshctl", "apply", "-f", "-", "-o", "json", "--dry-run",
        "--namespace", "prod", "--control-plane", "cp",
    ]  # fmt: skip
    assert resource.resource_command("meshctl", "delete", {}, ["VirtualService", "reviews"], False) == [
        "meshctl", "delete", "VirtualService", "reviews", "-o", "json", "--ignore-not-found",
    ]  # fmt: skip


def test_a_definition_becomes_yaml_documents() -> None:
    text = resource.definition_text([DR, {**DR, "metadata": {"name": "ratings"}}])
    assert text.count("---") == 1
    assert text.startswith("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n")
    assert resource.definition_text(DR) == resource.definition_text([DR])
    assert resource.definition_text("kind: X\n") == "kind: X\n"


@pytest.mark.parametrize(
    ("definition", "complaint"),
    [
        ("  \n", "definition: is empty"),
        ([], "definition: is an empty list"),
        ([DR, "oops"], r"definition\[1\]: is a str, not a resource"),
        (3, "definition: is a int, not a resource"),
    ],
)
def test_a_definition_that_is_no_resource_is_named(definition: Any, complaint: str) -> None:
    with pytest.raises(runner.MeshctlError, match=complaint):
        resource.definition_text(definition)


def test_resource_input_from_src_or_definition(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("kind: X\n")
    assert resource.resource_input({"src": str(rules)}) == (["-f", str(rules)], None)
    assert resource.resource_input({"src": None, "definition": "kind: X\n"}) == (["-f", "-"], "kind: X\n")
    with pytest.raises(
        runner.MeshctlError, match=f"src: {tmp_path}/missing.yaml does not exist on the managed host"
    ):
        resource.resource_input({"src": str(tmp_path / "missing.yaml")})
    with pytest.raises(runner.MeshctlError, match="is not a file on the managed host; give one YAML file"):
        resource.resource_input({"src": str(tmp_path)})
    with pytest.raises(runner.MeshctlError, match="template: was not rendered"):
        resource.resource_input({"src": None, "definition": None, "template": "x.j2"})


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ({}, "state=present needs the resources: give definition, src or template"),
        ({"state": "patched"}, "state=patched needs the resources"),
        ({"state": "absent"}, "kind: required to delete by name"),
        ({"state": "absent", "kind": "VirtualService"}, "name: required to delete a VirtualService by kind"),
        ({"state": "absent", "kind": "vs", "name": "r", "src": "/r.yaml"}, "do not combine them with src"),
        ({"kind": "vs", "name": "r", "definition": DR}, "do not combine them with definition"),
        ({"state": "absent", "definition": DR, "apply": True}, "apply: merges the input into live objects"),
        (
            {"state": "absent", "definition": DR, "wait": True, "wait_condition": {"type": "Reconciled"}},
            "wait_condition: state=absent waits until the resources are gone",
        ),
        (
            {"definition": DR, "wait": True, "wait_timeout": -5},
            "wait_timeout: must be 0 or more seconds, not -5",
        ),
        ({"definition": DR, "wait_sleep": -1}, "wait_sleep: must be 0 or more seconds"),
    ],
)
def test_the_input_a_state_needs_is_checked_first(given: dict[str, Any], complaint: str) -> None:
    with pytest.raises(runner.MeshctlError, match=complaint):
        resource.check_input(params(**given))


def test_a_rendered_template_is_its_definition_and_named_as_the_template() -> None:
    rendered = params(definition="kind: X\n", template=["rules.yaml.j2"])
    resource.check_input(rendered)
    assert resource.source_label(rendered) == "template rules.yaml.j2"
    assert resource.source_label(params(src="/r.yaml")) == "src"
    assert resource.source_label(params(definition=DR)) == "definition"
    resource.check_input(params(state="absent", kind="vs", name="reviews"))


def test_kind_and_api_version_become_meshctls_kind() -> None:
    assert resource.kind_argument({"kind": "VirtualService", "api_version": None}) == "VirtualService"
    assert resource.kind_argument({"kind": "vs", "api_version": "networking.istio.io/v1"}) == (
        "vs.networking.istio.io"
    )
    assert resource.kind_argument({"kind": "Namespace", "api_version": "v1"}) == "Namespace"


def test_documents_to_merge_are_parsed_and_keyed() -> None:
    documents = resource.parse_documents("---\nkind: A\nmetadata: {name: a}\n---\n---\n[{kind: B}]\n", "src")
    assert documents == [{"kind": "A", "metadata": {"name": "a"}}, {"kind": "B"}]
    assert resource.document_key_in(documents[0], "prod", "src", 0) == ("A", "prod", "a")
    assert resource.document_key_in({"kind": "Namespace", "metadata": {"name": "n"}}, "x", "src", 0) == (
        "Namespace",
        "",
        "n",
    )
    with pytest.raises(runner.MeshctlError, match=r"src document 2 \(B\): has no metadata.name"):
        resource.document_key_in(documents[1], None, "src", 1)
    with pytest.raises(runner.MeshctlError, match="src document 1: has no kind"):
        resource.document_key_in({"metadata": {"name": "a"}}, None, "src", 0)
    with pytest.raises(runner.MeshctlError, match="definition: is not valid YAML"):
        resource.parse_documents("a: [", "definition")
    with pytest.raises(runner.MeshctlError, match="template x.j2: has no resources"):
        resource.parse_documents("---\n", "template x.j2")


def test_predicted_documents_place_resources_in_their_namespace() -> None:
    documents = [DR, {**DR, "metadata": {"name": "ratings", "namespace": "shop"}}]
    changing = [
        result("reviews", "configured", namespace="prod"),
        result("ratings", "created", namespace="shop"),
    ]
    predicted = resource.predicted_documents(documents, changing, "prod")
    assert predicted[("DestinationRule", "prod", "reviews")]["metadata"] == {
        "name": "reviews",
        "namespace": "prod",
    }
    assert predicted[("DestinationRule", "shop", "ratings")]["metadata"]["namespace"] == "shop"
    assert resource.predicted_documents(documents, [result("reviews", "configured")], None).keys() == {
        ("DestinationRule", "default", "reviews")
    }
    assert DR["metadata"] == {"name": "reviews"}  # the input is not changed


def test_entries_name_the_api_group() -> None:
    assert resource.entry(result("a", "created")) == {
        "kind": "DestinationRule", "api_group": "networking.istio.io", "namespace": "default", "name": "a",
        "result": "created",
    }  # fmt: skip
