"""One analysis run: resources in, the analyzers run, suppressions and namespace filter applied, sorted."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..resources import Resource
from ..resources.kinds import NAMESPACE
from .analyzers import all_analyzers
from .analyzers.base import Analyzer
from .context import AnalysisContext
from .meshconfig import MeshConfig
from .message_catalogue import CATALOGUE
from .messages import Message

#: Namespaces Istio never analyzes (system namespaces of Kubernetes distributions).
IGNORED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})
SUPPRESS_ANNOTATION = "galley.istio.io/analyze-suppress"


class SuppressionError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Suppression:
    """`--suppress CODE=PATTERN`: PATTERN is a glob (`*` only) over `Kind ns/name`."""

    code: str
    pattern: str

    @classmethod
    def parse(cls, text: str) -> Suppression:
        parts = text.split("=")
        if len(parts) != 2 or not parts[0]:
            raise SuppressionError(
                f"{text} is not a valid suppression value: use CODE=PATTERN, e.g. 'IST0103=Pod testing/*'"
            )
        return cls(parts[0].strip(), parts[1])

    @property
    def known_code(self) -> bool:
        return self.code in CATALOGUE

    def matches(self, message: Message) -> bool:
        if message.resource is None or message.code != self.code:
            return False
        return _glob(self.pattern, message.resource.friendly_name)


def _glob(pattern: str, text: str) -> bool:
    # Only `*` is special, as in the glob Istio uses; escape everything else fnmatch would interpret.
    escaped = "".join("*" if c == "*" else f"[{c}]" if c in "?[]" else c for c in pattern)
    return fnmatch.fnmatchcase(text, escaped)


@dataclass
class AnalysisRequest:
    resources: Sequence[Resource]
    mesh_config: MeshConfig = field(default_factory=MeshConfig)
    #: Analyzer names to run; empty means all.
    analyzers: Sequence[str] = ()
    #: The namespace messages are shown for; None shows every namespace (`-A`).
    namespace: str | None = "default"
    suppressions: Sequence[Suppression] = ()


def select_analyzers(names: Iterable[str]) -> tuple[Analyzer, ...]:
    everything = all_analyzers()
    wanted = set(names)
    chosen = tuple(a for a in everything if a.name in wanted)
    return chosen if chosen else everything


def analyze(request: AnalysisRequest) -> list[Message]:
    resources = [r for r in request.resources if r.namespace not in IGNORED_NAMESPACES]
    context = AnalysisContext(resources, request.mesh_config)
    for analyzer in select_analyzers(request.analyzers):
        analyzer.run(context)
    messages = [m for m in context.messages if not _suppressed(m, request.suppressions)]
    if request.namespace is not None:
        messages = [m for m in messages if _in_namespace(m, request.namespace)]
    return sort_and_dedupe(messages)


def _suppressed(message: Message, suppressions: Sequence[Suppression]) -> bool:
    if any(s.matches(message) for s in suppressions):
        return True
    if message.resource is None:
        return False
    annotation = message.resource.annotations.get(SUPPRESS_ANNOTATION)
    if annotation is None:
        return False
    codes = annotation.split(",")
    return "*" in codes or message.code in codes


def _in_namespace(message: Message, namespace: str) -> bool:
    resource = message.resource
    if resource is None:
        return True
    own = resource.name if resource.kind == NAMESPACE else resource.namespace
    return not own or own == namespace


def sort_and_dedupe(messages: Iterable[Message]) -> list[Message]:
    result: list[Message] = []
    last = None
    for message in sorted(messages, key=Message.sort_key):
        line = message.render()
        if line != last:
            result.append(message)
        last = line
    return result
