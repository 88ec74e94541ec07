"""plugins/module_utils/info.py: resource_info's meshctl command and the reading of what it printed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ansible_collections.meshlab.mesh.plugins.module_utils import info, runner


def params(**given: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "kind": "DestinationRule",
        "api_version": None,
        "name": None,
        "namespace": None,
        "label_selectors": [],
        "field_selectors": [],
    }
    found.update(given)
    return found


def test_by_name_in_a_namespace_or_by_kind_in_every_namespace_with_selectors() -> None:
    assert info.info_command("meshctl", params(name="reviews")) == [
        "meshctl", "get", "DestinationRule", "reviews", "--ignore-not-found", "--namespace", "default",
        "-o", "json",
    ]  # fmt: skip
    listed = info.info_command(
        "meshctl",
        params(
            api_version="networking.istio.io/v1", label_selectors=["app=r", "v!=1"], field_selectors=["a=b"]
        ),
    )
    assert listed == [
        "meshctl", "get", "DestinationRule.networking.istio.io", "--all-namespaces",
        "--selector", "app=r,v!=1", "--field-selector", "a=b", "-o", "json",
    ]  # fmt: skip
    assert "--namespace" in info.info_command("meshctl", params(namespace="shop"))


def test_what_meshctl_printed_becomes_resources() -> None:
    item = {"kind": "DestinationRule", "metadata": {"name": "r"}}
    listing = json.dumps({"kind": "List", "items": [item]})
    assert info.interpret_info(0, listing, "", {})["resources"] == [item]
    assert info.interpret_info(0, json.dumps(item), "", {})["resources"] == [item]
    assert info.interpret_info(0, "", "", {}) == {"resources": [], "api_found": True}
    unknown = info.interpret_info(64, "", 'Error: the server doesn\'t have a resource type "X"', {})
    assert (unknown["resources"], unknown["api_found"]) == ([], False)
    with pytest.raises(runner.MeshctlError, match="meshctl get rejected its arguments"):
        info.interpret_info(64, "", "Error: --selector 'a=(': unable to parse requirement", {})
    with pytest.raises(runner.MeshctlError, match="a List without items"):
        info.interpret_info(0, json.dumps({"kind": "List"}), "", {})


def test_a_name_with_a_selector_or_an_empty_selector_is_refused() -> None:
    with pytest.raises(runner.MeshctlError, match="name: cannot be combined with label_selectors"):
        info.check_selectors(params(name="r", field_selectors=["metadata.name=r"]))
    with pytest.raises(runner.MeshctlError, match=r"label_selectors\[1\]: is empty"):
        info.check_selectors(params(label_selectors=["app=r", " "]))
    info.check_selectors(params(label_selectors=["app=r"]))
