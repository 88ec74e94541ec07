"""The registry: every analyzer meshctl runs, one module per Istio analyzer package. Each module defines its
analyzers with `base.analyzer`; this package lists the modules and collects what they define, so the
analyzers never import the registry back."""

from types import ModuleType

from . import (
    annotations,
    auth,
    deployment,
    deprecation,
    destinationrule,
    gateway,
    injection,
    schema,
    service,
    serviceentry,
    sidecar,
    virtualservice,
)
from .base import Analyzer

ANALYZER_MODULES: tuple[ModuleType, ...] = (
    annotations,
    auth,
    deployment,
    deprecation,
    destinationrule,
    gateway,
    injection,
    schema,
    service,
    serviceentry,
    sidecar,
    virtualservice,
)


def _collect(modules: tuple[ModuleType, ...]) -> tuple[Analyzer, ...]:
    """The analyzers the modules define (as names of their own, or tuples of them), sorted by name; two
    different analyzers of one name are a bug."""
    by_name: dict[str, Analyzer] = {}
    for module in modules:
        for value in vars(module).values():
            for found in value if isinstance(value, tuple) else (value,):
                if isinstance(found, Analyzer) and by_name.setdefault(found.name, found) is not found:
                    raise ValueError(f"two analyzers are named {found.name} ({module.__name__})")
    return tuple(sorted(by_name.values(), key=lambda a: a.name))


ANALYZERS = _collect(ANALYZER_MODULES)


def all_analyzers() -> tuple[Analyzer, ...]:
    """Every analyzer, sorted by name."""
    return ANALYZERS
