"""Our schemas against Istio's CRDs (shared/reference/istio/crds/crd-all.gen.yaml), field by field.

Every field path Istio's schema has under `spec` (properties, list items, map values) must be in ours, and
ours must have none Istio lacks; at each path the kind of value (object, list, map, string, enum, integer,
number, boolean), the enum names, the required fields and the integer bounds must agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesh_runtime.resources.kinds import MODELLED_KINDS, Kind
from mesh_runtime.validation import schema_for
from mesh_runtime.validation.dsl import Boolean, Choice, Integer, ListOf, MapOf, Node, Number, Record, Text

INT32 = (-(2**31), 2**31 - 1)
_VERSION = re.compile(r"v(\d+)(?:(alpha|beta)(\d+))?\Z")


@pytest.fixture(scope="module")
def crds(istio_reference: Path) -> list[dict[str, Any]]:
    with open(istio_reference / "crds" / "crd-all.gen.yaml") as handle:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return [doc for doc in yaml.load_all(handle, Loader=loader) if doc]


def version_priority(name: str) -> tuple[int, int, int]:
    """Kubernetes' version order: GA above beta above alpha, then by number."""
    match = _VERSION.match(name)
    if match is None:
        return (-1, 0, 0)
    major, stage, minor = match.groups()
    return ({"alpha": 0, "beta": 1, None: 2}[stage], int(major), int(minor or 0))


def newest_spec_schema(crds: list[dict[str, Any]], kind: Kind) -> dict[str, Any]:
    (crd,) = [c for c in crds if c["spec"]["group"] == kind.group and c["spec"]["names"]["kind"] == kind.kind]
    served = [v for v in crd["spec"]["versions"] if v.get("served")]
    newest = max(served, key=lambda v: version_priority(v["name"]))
    schema: dict[str, Any] = newest["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def walk_crd(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, child in (node.get("properties") or {}).items():
        yield f"{prefix}.{name}", child
        yield from walk_crd(child, f"{prefix}.{name}")
    if isinstance(node.get("items"), Mapping):
        yield prefix + "[]", node["items"]
        yield from walk_crd(node["items"], prefix + "[]")
    if isinstance(node.get("additionalProperties"), Mapping):
        yield prefix + "{}", node["additionalProperties"]
        yield from walk_crd(node["additionalProperties"], prefix + "{}")


def istio_fields(crds: list[dict[str, Any]], kind: Kind) -> dict[str, Mapping[str, Any]]:
    return dict(walk_crd(newest_spec_schema(crds, kind), "spec"))


KINDS = [pytest.param(kind, id=kind.kind) for kind in MODELLED_KINDS]


def test_version_priority_orders_like_kubernetes() -> None:
    names = ["v1alpha3", "v1", "v1beta1", "v2alpha1", "v1beta2"]
    assert sorted(names, key=version_priority, reverse=True) == [
        "v1",
        "v1beta2",
        "v1beta1",
        "v2alpha1",
        "v1alpha3",
    ]


def test_every_modelled_kind_has_a_schema() -> None:
    assert [k.kind for k in MODELLED_KINDS] == [
        "VirtualService",
        "DestinationRule",
        "Gateway",
        "ServiceEntry",
        "Sidecar",
        "PeerAuthentication",
        "AuthorizationPolicy",
    ]
    for kind in MODELLED_KINDS:
        assert schema_for(kind) is not None


@pytest.mark.parametrize("kind", KINDS)
def test_schema_has_every_field_istio_has(crds: list[dict[str, Any]], kind: Kind) -> None:
    schema = schema_for(kind)
    assert schema is not None
    missing = sorted(set(istio_fields(crds, kind)) - set(schema.field_paths()))
    assert not missing, f"{kind.kind}: fields in Istio's CRD that our schema lacks: {missing}"


@pytest.mark.parametrize("kind", KINDS)
def test_schema_has_no_field_istio_lacks(crds: list[dict[str, Any]], kind: Kind) -> None:
    schema = schema_for(kind)
    assert schema is not None
    invented = sorted(set(schema.field_paths()) - set(istio_fields(crds, kind)))
    assert not invented, f"{kind.kind}: fields in our schema that Istio's CRD does not have: {invented}"


def expected_node_type(crd: Mapping[str, Any]) -> type:
    kind = crd.get("type")
    if kind == "object":
        return MapOf if "additionalProperties" in crd and "properties" not in crd else Record
    if kind == "string":
        return Choice if "enum" in crd else Text
    return {"array": ListOf, "integer": Integer, "number": Number, "boolean": Boolean}[str(kind)]


@pytest.mark.parametrize("kind", KINDS)
def test_value_types_agree(crds: list[dict[str, Any]], kind: Kind) -> None:
    schema = schema_for(kind)
    assert schema is not None
    ours = schema.fields()
    wrong = [
        f"{path}: Istio {crd.get('type')}, ours {type(ours[path]).__name__}"
        for path, crd in istio_fields(crds, kind).items()
        if path in ours and not isinstance(ours[path], expected_node_type(crd))
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("kind", KINDS)
def test_enums_agree(crds: list[dict[str, Any]], kind: Kind) -> None:
    schema = schema_for(kind)
    assert schema is not None
    ours = schema.fields()
    for path, crd in istio_fields(crds, kind).items():
        if "enum" in crd:
            node: Node = ours[path]
            assert isinstance(node, Choice), path
            assert list(node.values) == list(crd["enum"]), path


@pytest.mark.parametrize("kind", KINDS)
def test_required_fields_agree(crds: list[dict[str, Any]], kind: Kind) -> None:
    schema = schema_for(kind)
    assert schema is not None
    ours: dict[str, Node] = {"spec": schema.spec, **schema.fields()}
    crd_nodes = {"spec": newest_spec_schema(crds, kind), **istio_fields(crds, kind)}
    for path, crd in crd_nodes.items():
        node = ours[path]
        if isinstance(node, Record):
            assert set(crd.get("required", ())) <= set(node.required), path


@pytest.mark.parametrize("kind", KINDS)
def test_integer_bounds_are_within_istios(crds: list[dict[str, Any]], kind: Kind) -> None:
    schema = schema_for(kind)
    assert schema is not None
    ours = schema.fields()
    for path, crd in istio_fields(crds, kind).items():
        if crd.get("type") != "integer":
            continue
        node = ours[path]
        assert isinstance(node, Integer)
        low, high = INT32 if crd.get("format") == "int32" else (crd.get("minimum"), crd.get("maximum"))
        if low is not None:
            assert node.minimum is not None and node.minimum >= low, path
        if high is not None:
            assert node.maximum is not None and node.maximum <= high, path
