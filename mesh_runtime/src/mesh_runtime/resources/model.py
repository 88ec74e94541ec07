"""Typed resources: identity, metadata, spec and where each came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .kinds import Kind

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Source:
    """Where a resource was read from: a path (or `-` for stdin) and the line its document starts on."""

    path: str
    line: int = 0  # 0: not known (a resource that did not come from a file)
    #: The line of every scalar field, keyed as Istio keys it: `{.spec.http[0].route[0].destination.host}`.
    field_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, field_path: str | None) -> int:
        """The line of `field_path` if it was in the document, else the document's first line."""
        if field_path is not None:
            found = self.field_lines.get(field_path)
            if found is not None:
                return found
        return self.line

    def reference(self, field_path: str | None = None) -> str:
        """`file:line` as analyzer messages print it."""
        line = self.line_of(field_path)
        return f"{self.path}:{line}" if line else self.path


@dataclass(frozen=True, slots=True)
class ResourceKey:
    group: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Resource:
    """One Kubernetes-style object. `body` is the whole document; `spec` is its `spec` mapping."""

    kind: Kind
    api_version: str
    name: str
    namespace: str  # "" for cluster-scoped kinds (and for namespaced ones when none applies)
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    body: Mapping[str, Any]
    source: Source | None = None

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.kind.group, self.kind.kind, self.namespace, self.name)

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, Mapping) else _EMPTY

    @property
    def full_name(self) -> str:
        """`ns/name`, or `name` for cluster-scoped resources, as Istio prints FullName."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def friendly_name(self) -> str:
        """`Kind ns/name` (or `Kind name`): how analyzer messages name their resource."""
        return f"{self.kind.kind} {self.full_name}"

    def with_namespace(self, namespace: str) -> Resource:
        return replace(self, namespace=namespace)

    def line_of(self, field_path: str | None = None) -> int:
        return self.source.line_of(field_path) if self.source else 0
