"""Builders for validation tests: a resource of a kind from a spec written as YAML, and its findings."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import yaml

from mesh_runtime.resources import Resource, parse_resource
from mesh_runtime.validation import Finding, validate

API_VERSIONS = {
    "VirtualService": "networking.istio.io/v1",
    "DestinationRule": "networking.istio.io/v1",
    "Gateway": "networking.istio.io/v1",
    "ServiceEntry": "networking.istio.io/v1",
    "Sidecar": "networking.istio.io/v1",
    "PeerAuthentication": "security.istio.io/v1",
    "AuthorizationPolicy": "security.istio.io/v1",
    "Service": "v1",
}

ResourceBuilder = Callable[..., Resource]
FindingsOf = Callable[..., list[Finding]]


def build_resource(
    kind: str,
    spec: str | Any,
    name: str = "sample",
    namespace: str = "default",
    annotations: Mapping[str, str] | None = None,
) -> Resource:
    """A resource of `kind`; `spec` is YAML text (dedented) or an already-built value."""
    if isinstance(spec, str):
        spec = yaml.safe_load(textwrap.dedent(spec))
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return parse_resource(
        {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": metadata, "spec": spec}
    )


@pytest.fixture
def make() -> ResourceBuilder:
    return build_resource


@pytest.fixture
def findings_of() -> FindingsOf:
    def run(kind: str, spec: str | Any, **kwargs: Any) -> list[Finding]:
        return validate(build_resource(kind, spec, **kwargs))

    return run


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "error"]


def warnings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "warning"]
