"""What an analyzer sees: the resources by kind, the mesh config, and a place to report messages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..resources import Resource
from ..resources.kinds import Kind
from .meshconfig import MeshConfig
from .messages import Message


@dataclass
class AnalysisContext:
    resources: Iterable[Resource]
    mesh_config: MeshConfig = field(default_factory=MeshConfig)
    messages: list[Message] = field(default_factory=list)

    def __post_init__(self) -> None:
        by_kind: dict[Kind, list[Resource]] = defaultdict(list)
        by_key: dict[tuple[Kind, str, str], Resource] = {}
        for resource in self.resources:
            by_kind[resource.kind].append(resource)
            by_key[(resource.kind, resource.namespace, resource.name)] = resource
        self._by_kind = {kind: tuple(items) for kind, items in by_kind.items()}
        self._by_key = by_key

    def each(self, kind: Kind) -> tuple[Resource, ...]:
        """Every resource of `kind`, in the order read."""
        return self._by_kind.get(kind, ())

    def find(self, kind: Kind, namespace: str, name: str) -> Resource | None:
        return self._by_key.get((kind, namespace if kind.namespaced else "", name))

    def exists(self, kind: Kind, namespace: str, name: str) -> bool:
        return self.find(kind, namespace, name) is not None

    def has_kind(self, kind: Kind) -> bool:
        return kind in self._by_kind

    def report(self, message: Message) -> None:
        self.messages.append(message)
