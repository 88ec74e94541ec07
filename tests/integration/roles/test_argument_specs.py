"""The roles' argument specs (roles/*/meta/argument_specs.yml): every default is the value defaults/main.yml
gives (not a description of it), every variable holding dicts says which keys they take, and a bad entry is
refused by a real playbook run naming the variable and the key, before anything is installed (playbooks/
preflight.yml validates every role first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.isolated_host import REPO_ROOT
from tests.integration.playbooks.mesh_host import mesh_host

ROLES = sorted(path.parent.parent for path in (REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"))
#: Maps whose keys are the user's own (environment variables, addon names): no fixed keys to spell out.
FREE_FORM = {"runtime_service_environment", "healthcheck_addon_urls"}


def entry_points(role: Path) -> dict[str, Any]:
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]


def role_defaults(role: Path) -> dict[str, Any]:
    return yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_every_default_is_the_one_defaults_main_gives(role: Path) -> None:
    defaults = role_defaults(role)
    wrong = []
    for entry, spec in entry_points(role).items():
        for name, option in (spec.get("options") or {}).items():
            if option.get("required") or name not in defaults:
                continue
            if option.get("default", "(none)") != defaults[name]:
                wrong.append(f"{entry}.{name}: {option.get('default', '(none)')!r} != {defaults[name]!r}")
    assert wrong == []


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_every_variable_holding_dicts_names_their_keys(role: Path) -> None:
    vague = [
        f"{entry}.{name}"
        for entry, spec in entry_points(role).items()
        for name, option in (spec.get("options") or {}).items()
        if (option.get("type") == "dict" or option.get("elements") == "dict")
        and "options" not in option
        and name not in FREE_FORM
    ]
    assert vague == []


BAD_ENTRIES = [
    pytest.param(
        "mesh.yml",
        {
            "mesh_gateways": [
                {"mode": "ingress", "ports": [{"name": "http2", "port": 80, "targetPort": 28080}]}
            ]
        },
        "missing required arguments: name found in gateways_list",
        id="gateway-without-a-name",
    ),
    pytest.param(
        "site.yml",
        {"bookinfo_workloads": [{"service": "details", "versoin": "v1"}]},
        "bookinfo_workloads.versoin. Supported parameters include: host, name, service, version",
        id="misspelt-workload-key",
    ),
    pytest.param(
        "site.yml",
        {"injection_namespaces": [{"name": "default", "labels": ["istio-injection=enabled"]}]},
        "argument 'labels' is of type list found in 'injection_namespaces'",
        id="labels-as-a-list",
    ),
]


@pytest.mark.parametrize(("playbook", "variables", "message"), BAD_ENTRIES)
def test_a_bad_entry_is_refused_before_anything_changes(
    tmp_path: Path, playbook: str, variables: dict[str, Any], message: str
) -> None:
    with mesh_host(tmp_path) as mesh:
        run = mesh.run(playbook, "bad", extra_vars=variables)

        assert run.returncode != 0
        assert "Validation of arguments failed" in run.output
        assert message in run.output
        assert run.recap()["changed"] == 0
        assert run.recap()["failed"] == 1
        assert list(mesh.host.base.iterdir()) == []
        assert not mesh.host.credentials_dir.exists()
