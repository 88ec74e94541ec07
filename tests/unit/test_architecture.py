"""The tree's architecture, checked: the runtime's layering contracts (import-linter, configured in
mesh_runtime/pyproject.toml), no import cycle between any two modules (type-only imports included), the
collection's plugins never importing the runtime, and no module over 700 lines.

Each check is also run against a copy of the runtime with one violation planted, so a check that stopped
seeing its kind of violation fails here too.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

from tests.conftest import REPO_ROOT

RUNTIME = REPO_ROOT / "mesh_runtime"
RUNTIME_SOURCES = RUNTIME / "src"
PLUGINS = REPO_ROOT / "plugins"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_MODULE_LINES = 700


def import_cycles(package: str) -> list[list[str]]:
    """Every set of modules of `package` that import each other round in a circle (Tarjan's strongly
    connected components of the module graph, TYPE_CHECKING imports included), each sorted."""
    graph = grimp.build_graph(package, cache_dir=None)
    imports = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in on_stack:
                lowest[module] = min(lowest[module], index[imported])
        if lowest[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return sorted(cycles)


def lint_imports(sources: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the runtime's contracts over the `mesh_runtime` found in `sources`."""
    environment = dict(os.environ, PYTHONPATH=str(sources))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(RUNTIME / "pyproject.toml")],
        cwd=RUNTIME,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def python_files(root: Path) -> Iterator[Path]:
    yield from sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def runtime_imports(path: Path) -> list[str]:
    """The modules of mesh_runtime that the file at `path` imports, however it spells the import."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [name for name in names if name.split(".")[0] == "mesh_runtime"]
    return found


def oversized_modules(*roots: Path) -> list[str]:
    return [
        f"{path.relative_to(root.parent)}: {count} lines"
        for root in roots
        for path in python_files(root)
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[Path]:
    """A copy of the runtime's sources to plant a violation in; its modules leave sys.modules after."""
    copy = tmp_path / "src"
    shutil.copytree(RUNTIME_SOURCES, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    yield copy


# ---------------------------------------------------------------------------------------------------------
# The real tree


def test_the_runtime_keeps_its_layering_contracts() -> None:
    result = lint_imports(RUNTIME_SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_two_runtime_modules_import_each_other_round_in_a_circle() -> None:
    assert import_cycles("mesh_runtime") == []


def test_the_plugins_reach_the_runtime_only_through_meshctl() -> None:
    offenders = {str(path.relative_to(REPO_ROOT)): runtime_imports(path) for path in python_files(PLUGINS)}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_module_of_the_runtime_or_the_plugins_is_over_700_lines() -> None:
    assert oversized_modules(RUNTIME_SOURCES, PLUGINS) == []


# ---------------------------------------------------------------------------------------------------------
# Each check sees what it is there to see

VIOLATIONS = {
    "proxy imports discovery": ("proxy/_planted.py", "from mesh_runtime.discovery import store\n"),
    "discovery imports proxy": ("discovery/_planted.py", "import mesh_runtime.proxy.config\n"),
    "xds imports discovery": ("xds/_planted.py", "from mesh_runtime.discovery import snapshot\n"),
    "meshd imports cli": ("meshd/_planted.py", "from mesh_runtime.cli import main\n"),
    "a type-only cycle": (
        "resources/_planted.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from mesh_runtime.validation import findings\n",
    ),
}


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_a_planted_violation_breaks_a_contract(planted: Path, violation: str) -> None:
    relative, source = VIOLATIONS[violation]
    (planted / "mesh_runtime" / relative).write_text(source)
    result = lint_imports(planted)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert f"mesh_runtime.{relative.removesuffix('.py').replace('/', '.')}" in result.stdout


def test_the_cycle_finder_sees_a_cycle_through_type_only_imports(tmp_path: Path) -> None:
    package = tmp_path / "planted_cycle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text("from planted_cycle import second\n")
    (package / "second.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planted_cycle import first\n"
    )
    (package / "third.py").write_text("from planted_cycle import first\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert import_cycles("planted_cycle") == [["planted_cycle.first", "planted_cycle.second"]]
    finally:
        sys.path.remove(str(tmp_path))


def test_the_plugin_check_sees_every_spelling_of_a_runtime_import(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import os\nimport mesh_runtime.cli.main as m\nfrom mesh_runtime import xds\n"
        "from .mesh_runtime import local\n"
    )
    assert runtime_imports(plugin) == ["mesh_runtime.cli.main", "mesh_runtime"]


def test_the_size_check_names_a_module_over_700_lines(planted: Path) -> None:
    long_module = planted / "mesh_runtime" / "_long.py"
    long_module.write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (planted / "mesh_runtime" / "_short.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    assert [line for line in oversized_modules(planted) if "_long" in line or "_short" in line] == [
        f"src/mesh_runtime/_long.py: {MAX_MODULE_LINES + 1} lines"
    ]
