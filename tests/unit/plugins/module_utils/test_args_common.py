"""The shared options: specified once in args_common, merged by every module, never copied into one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansible_collections.meshlab.mesh.plugins.module_utils import args_common
from tests.conftest import REPO_ROOT

MODULES = REPO_ROOT / "plugins" / "modules"
SHARED = {**args_common.MESHCTL_ARGS, **args_common.CONFIG_API_ARGS}


def test_a_spec_is_the_own_options_then_the_shared_ones_in_a_fresh_copy() -> None:
    own = {"name": {"type": "str", "required": True}}
    spec = args_common.argument_spec(own, config_api=True)
    assert spec == {**own, **SHARED}
    assert spec["token"]["no_log"] is True
    spec["token"]["no_log"] = False
    assert args_common.argument_spec({}, config_api=True)["token"]["no_log"] is True
    assert args_common.argument_spec({}) == args_common.MESHCTL_ARGS


def test_an_own_option_may_not_take_a_shared_name() -> None:
    with pytest.raises(ValueError, match="options data_dir are shared"):
        args_common.argument_spec({"data_dir": {"type": "str"}}, config_api=True)


def declared_option_names(path: Path) -> set[str]:
    """Every string key of a dict literal in the module's code (its argument spec's options among them)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            names |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return names


@pytest.mark.parametrize("module", sorted(p.name for p in MODULES.glob("*.py")))
def test_no_module_copies_a_shared_option(module: str) -> None:
    """meshctl_path is every module's; the config-API options are those of the modules that merge them
    (meshlab.mesh.version has a control_plane of its own: the monitoring port's address)."""
    path = MODULES / module
    text = path.read_text()
    shared = set(args_common.MESHCTL_ARGS)
    if "config_api=True" in text:
        shared |= set(args_common.CONFIG_API_ARGS)
    assert declared_option_names(path) & shared == set()
    assert "argument_spec(" in text


def test_the_copy_check_sees_a_copied_option(tmp_path: Path) -> None:
    copied = tmp_path / "copied.py"
    copied.write_text('spec = {"name": {"type": "str"}, "token": {"type": "str", "no_log": True}}\n')
    assert declared_option_names(copied) & set(SHARED) == {"token"}
