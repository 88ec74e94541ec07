"""The shared options: specified once in args_common, merged by every module, never copied into one; and
every module of the action group accepts all of them, so one module_defaults entry serves the group."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from ansible_collections.meshlab.mesh.plugins.module_utils import args_common
from tests.conftest import REPO_ROOT

MODULES = REPO_ROOT / "plugins" / "modules"
SHARED = args_common.GROUP_ARGS


def test_a_spec_is_the_own_options_then_every_shared_one_in_a_fresh_copy() -> None:
    own = {"name": {"type": "str", "required": True}}
    spec = args_common.argument_spec(own)
    assert spec == {**own, **SHARED}
    assert set(SHARED) == {"meshctl_path", "control_plane", "token", "ca_file", "data_dir"}
    assert spec["token"]["no_log"] is True
    spec["token"]["no_log"] = False
    assert args_common.argument_spec({})["token"]["no_log"] is True


def test_an_own_option_may_take_a_shared_name_only_when_it_says_it_replaces_it() -> None:
    with pytest.raises(ValueError, match="options data_dir are shared"):
        args_common.argument_spec({"data_dir": {"type": "str"}})
    own = {"control_plane": {"type": "str", "default": "monitoring"}}
    assert (
        args_common.argument_spec(own, replaces=("control_plane",))["control_plane"] == own["control_plane"]
    )
    with pytest.raises(ValueError, match="replaces names token, which the module does not declare"):
        args_common.argument_spec({}, replaces=("token",))


def declared_option_names(path: Path) -> set[str]:
    """Every string key of a dict literal in the module's code (its argument spec's options among them)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            names |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return names


def replaced_names(path: Path) -> set[str]:
    """The names a module's argument_spec(..., replaces=(...)) call gives its own meaning."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "argument_spec":
            for keyword in node.keywords:
                if keyword.arg == "replaces":
                    return set(ast.literal_eval(keyword.value))
    return set()


@pytest.mark.parametrize("module", sorted(p.name for p in MODULES.glob("*.py")))
def test_no_module_copies_a_shared_option(module: str) -> None:
    """meshlab.mesh.version has a control_plane of its own (the monitoring port's address), and says so."""
    path = MODULES / module
    assert declared_option_names(path) & set(SHARED) == replaced_names(path)
    assert "argument_spec(" in path.read_text()


def test_the_copy_check_sees_a_copied_option(tmp_path: Path) -> None:
    copied = tmp_path / "copied.py"
    copied.write_text('spec = {"name": {"type": "str"}, "token": {"type": "str", "no_log": True}}\n')
    assert declared_option_names(copied) & set(SHARED) == {"token"}


def test_every_module_of_the_group_is_in_meta_runtime() -> None:
    runtime = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["meshctl"]) == sorted(p.stem for p in MODULES.glob("*.py"))
