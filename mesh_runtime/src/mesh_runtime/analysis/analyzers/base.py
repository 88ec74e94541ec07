"""What every analyzer is built from: the `Analyzer` (Istio's name for it, what it checks, the kinds it
reads, the function that runs it), the `@analyzer(...)` decorator that makes one of a function, and the
helpers most analyzers use (field paths for line numbers, label selectors). The list of every analyzer is
the package's (`analyzers/__init__.py`); nothing here knows it, so every analyzer can import this."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...resources.kinds import Kind
from ..context import AnalysisContext

AnalyzeFunction = Callable[[AnalysisContext], None]


@dataclass(frozen=True, slots=True)
class Analyzer:
    #: Istio's name for it (`virtualservice.GatewayAnalyzer`): what `--analyzer` and `-L` use.
    name: str
    description: str
    #: The kinds it reads.
    inputs: tuple[Kind, ...]
    run: AnalyzeFunction


def analyzer(name: str, description: str, inputs: tuple[Kind, ...]) -> Callable[[AnalyzeFunction], Analyzer]:
    """Make the decorated function the analyzer `name` (the module's name for it is then an `Analyzer`)."""

    def define(function: AnalyzeFunction) -> Analyzer:
        return Analyzer(name, description, inputs, function)

    return define


def field_path(*parts: str | int) -> str:
    """`field_path("spec", "http", 0, "route")` → `{.spec.http[0].route}`, the key lines are stored under."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return "{" + text + "}"


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether every label of a (non-empty or empty) equality selector is on `labels`."""
    return all(labels.get(key) == str(value) for key, value in selector.items())


def selector_text(selector: Mapping[str, Any]) -> str:
    """A selector as Kubernetes prints it: `a=b,c=d`, keys sorted."""
    return ",".join(f"{key}={selector[key]}" for key in sorted(selector))
