"""Analyzers as Istio names them, and the registry of every analyzer meshctl runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..resources.kinds import Kind
from .context import AnalysisContext

AnalyzeFunction = Callable[[AnalysisContext], None]


@dataclass(frozen=True, slots=True)
class Analyzer:
    #: Istio's name for it (`virtualservice.GatewayAnalyzer`): what `--analyzer` and `-L` use.
    name: str
    description: str
    #: The kinds it reads.
    inputs: tuple[Kind, ...]
    run: AnalyzeFunction


_REGISTRY: dict[str, Analyzer] = {}


def analyzer(
    name: str, description: str, inputs: tuple[Kind, ...]
) -> Callable[[AnalyzeFunction], AnalyzeFunction]:
    """Register a function as the analyzer `name`."""

    def register(function: AnalyzeFunction) -> AnalyzeFunction:
        if name in _REGISTRY:
            raise ValueError(f"analyzer {name} registered twice")
        _REGISTRY[name] = Analyzer(name, description, inputs, function)
        return function

    return register


def all_analyzers() -> tuple[Analyzer, ...]:
    """Every analyzer, sorted by name."""
    from . import analyzers  # noqa: F401  (importing the package registers them)

    return tuple(sorted(_REGISTRY.values(), key=lambda a: a.name))
