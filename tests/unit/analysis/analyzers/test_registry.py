"""The analyzer registry: it collects what every listed module defines, once, and refuses two analyzers of
one name."""

from __future__ import annotations

import types

import pytest

from mesh_runtime.analysis.analyzers import ANALYZER_MODULES, ANALYZERS, _collect, all_analyzers
from mesh_runtime.analysis.analyzers.base import Analyzer, analyzer
from mesh_runtime.resources.kinds import SERVICE


def test_every_listed_module_contributes_and_names_are_unique_and_sorted() -> None:
    names = [a.name for a in all_analyzers()]
    assert names == sorted(set(names))
    assert all(_collect((module,)) for module in ANALYZER_MODULES)
    assert sum(len(_collect((module,))) for module in ANALYZER_MODULES) == len(names)
    assert "virtualservice.GatewayAnalyzer" in names
    assert "schema.ValidationAnalyzer.VirtualService" in names
    assert all_analyzers() is ANALYZERS


def _module(name: str, **values: object) -> types.ModuleType:
    module = types.ModuleType(name)
    vars(module).update(values)
    return module


def test_an_analyzer_imported_by_another_module_is_counted_once() -> None:
    one = analyzer("x.One", "one", (SERVICE,))(lambda context: None)
    many = tuple(analyzer(f"y.Kind{i}", "kind", (SERVICE,))(lambda context: None) for i in range(2))
    found = _collect((_module("x", one=one, unrelated=3), _module("y", many=many, also_one=one)))
    assert [a.name for a in found] == ["x.One", "y.Kind0", "y.Kind1"]
    assert all(isinstance(a, Analyzer) for a in found)


def test_two_analyzers_of_one_name_are_refused() -> None:
    first = analyzer("x.Same", "first", (SERVICE,))(lambda context: None)
    second = analyzer("x.Same", "second", (SERVICE,))(lambda context: None)
    with pytest.raises(ValueError, match=r"two analyzers are named x.Same \(b\)"):
        _collect((_module("a", first=first), _module("b", second=second)))
