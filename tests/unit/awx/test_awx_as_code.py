"""AWX as code (awx/): job templates, surveys and the execution environment, read from the real files.

The surveys must be specs AWX accepts and ask only for variables the playbooks and roles read; the job
templates must name playbooks that exist. The execution environment definition must be one ansible-builder 3
accepts: `ansible-builder create` (when installed) renders it into a build context without a container.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
AWX = REPO_ROOT / "awx"
SURVEYS = AWX / "surveys"

# awx/api/templates/api/job_template_survey_spec.md: the question types AWX knows.
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
QUESTION_KEYS = {"type", "question_name", "question_description", "variable", "required", "default"}
CHOICE_TYPES = {"multiplechoice", "multiselect"}
# Where a survey variable must be read: the roles' defaults and argument specs, and the playbooks.
VARIABLE_SOURCES = ("roles/*/defaults/main.yml", "roles/*/meta/argument_specs.yml", "playbooks/*.yml")
# The options of awx.awx.job_template (awx.awx 24.6.1) job_templates.yml may use, plus our survey_file.
JOB_TEMPLATE_OPTIONS = {
    "name",
    "description",
    "job_type",
    "inventory",
    "project",
    "playbook",
    "credentials",
    "execution_environment",
    "become_enabled",
    "extra_vars",
    "ask_inventory_on_launch",
    "ask_job_type_on_launch",
    "ask_diff_mode_on_launch",
    "ask_limit_on_launch",
    "ask_verbosity_on_launch",
    "ask_variables_on_launch",
    "survey_enabled",
    "survey_file",
}
EXPECTED_TEMPLATES = {"meshlab site", "meshlab healthcheck", "meshlab walkthrough", "meshlab teardown"}
# ansible-builder 3's top-level sections (docs.ansible.com/projects/builder, "definition").
EE_SECTIONS = {
    "version",
    "images",
    "dependencies",
    "additional_build_files",
    "additional_build_steps",
    "build_arg_defaults",
    "options",
}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def job_templates() -> list[dict[str, Any]]:
    return list(load_yaml(AWX / "job_templates.yml")["meshlab_awx_job_templates"])


def survey_files() -> list[Path]:
    return sorted(SURVEYS.glob("*.json"))


def survey_problems(spec: Any) -> list[str]:
    """Everything that makes `spec` a survey AWX would refuse (or ask confusingly), as sentences."""
    if not isinstance(spec, dict):
        return ["the survey is not a JSON object"]
    problems = [f"missing {key!r}" for key in ("name", "description", "spec") if key not in spec]
    questions = spec.get("spec")
    if not isinstance(questions, list) or not questions:
        return [*problems, "'spec' must be a non-empty list of questions"]
    seen: set[str] = set()
    for index, question in enumerate(questions):
        where = f"spec[{index}]"
        missing = QUESTION_KEYS - set(question)
        if missing:
            problems.append(f"{where} lacks {sorted(missing)}")
            continue
        if question["type"] not in SURVEY_TYPES:
            problems.append(f"{where}: type {question['type']!r} is not one of AWX's {sorted(SURVEY_TYPES)}")
        if not isinstance(question["required"], bool):
            problems.append(f"{where}: required must be true or false")
        variable = question["variable"]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(variable)):
            problems.append(f"{where}: variable {variable!r} is not a valid Ansible variable name")
        if variable in seen:
            problems.append(f"{where}: variable {variable!r} is asked twice")
        seen.add(variable)
        problems.extend(choice_problems(where, question))
        problems.extend(length_problems(where, question))
    return problems


def choice_problems(where: str, question: dict[str, Any]) -> list[str]:
    if question["type"] not in CHOICE_TYPES:
        return [f"{where}: choices given to a {question['type']} question"] if "choices" in question else []
    choices = question.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        return [f"{where}: a {question['type']} question needs a list of string choices"]
    if len(set(choices)) != len(choices):
        return [f"{where}: choices repeat"]
    default = question["default"]
    # An empty default on a required question makes the user pick; any other default must be a choice.
    if default == "" and question["required"]:
        return []
    defaults = default.split("\n") if question["type"] == "multiselect" else [default]
    return [f"{where}: default {d!r} is not one of {choices}" for d in defaults if d not in choices]


def length_problems(where: str, question: dict[str, Any]) -> list[str]:
    if question["type"] not in {"text", "textarea", "password"}:
        return []
    low, high = question.get("min"), question.get("max")
    default = question["default"]
    if not isinstance(default, str):
        return [f"{where}: a text default must be a string"]
    if default and low is not None and len(default) < low:
        return [f"{where}: default shorter than min {low}"]
    if high is not None and len(default) > high:
        return [f"{where}: default longer than max {high}"]
    return []


def read_variable_sources() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for pattern in VARIABLE_SOURCES
        for path in sorted(REPO_ROOT.glob(pattern))
    }


# --- job templates -----------------------------------------------------------------------------------------


def test_the_four_job_templates_are_defined_once_each() -> None:
    names = [template["name"] for template in job_templates()]
    assert sorted(names) == sorted(EXPECTED_TEMPLATES)


@pytest.mark.parametrize("template", job_templates(), ids=lambda t: t["name"])
def test_job_template_uses_only_awx_options(template: dict[str, Any]) -> None:
    unknown = set(template) - JOB_TEMPLATE_OPTIONS
    assert not unknown, f"{template['name']}: not options of awx.awx.job_template: {sorted(unknown)}"
    assert template["job_type"] in {"run", "check"}
    for key in ("inventory", "project", "execution_environment", "credentials", "description"):
        assert template.get(key), f"{template['name']} lacks {key}"


@pytest.mark.parametrize("template", job_templates(), ids=lambda t: t["name"])
def test_job_template_playbook_exists_in_the_project(template: dict[str, Any]) -> None:
    playbook = template["playbook"]
    assert not Path(playbook).is_absolute() and ".." not in Path(playbook).parts, playbook
    assert (REPO_ROOT / playbook).is_file(), f"{template['name']}: {playbook} is not in the repository"


@pytest.mark.parametrize("template", job_templates(), ids=lambda t: t["name"])
def test_job_template_survey_file_exists_and_is_enabled(template: dict[str, Any]) -> None:
    assert template.get("survey_enabled") is True, f"{template['name']}: survey_enabled must be true"
    survey = AWX / template["survey_file"]
    assert survey.parent == SURVEYS and survey.is_file(), f"{template['name']}: no {survey}"


def test_every_survey_file_belongs_to_a_job_template() -> None:
    used = {(AWX / template["survey_file"]).resolve() for template in job_templates()}
    assert {path.resolve() for path in survey_files()} == used


def test_healthcheck_says_it_changes_nothing_and_teardown_demands_confirmation() -> None:
    by_name = {template["name"]: template for template in job_templates()}
    assert "read-only" in by_name["meshlab healthcheck"]["description"].lower()
    assert "check" in by_name["meshlab healthcheck"]["description"]
    teardown = json.loads((AWX / by_name["meshlab teardown"]["survey_file"]).read_text(encoding="utf-8"))
    (confirm,) = [q for q in teardown["spec"] if q["variable"] == "teardown_confirm"]
    assert confirm["required"] is True
    assert confirm["type"] == "multiplechoice" and sorted(confirm["choices"]) == ["no", "yes"]
    assert confirm["default"] != "yes", "a teardown must never be confirmed by default"


def test_the_inventory_source_file_is_in_the_project_with_the_lab_groups() -> None:
    (play,) = load_yaml(AWX / "configure_controller.yml")
    source = REPO_ROOT / play["vars"]["meshlab_awx_inventory_source_path"]
    assert source.is_file(), f"the inventory source reads {source}, which is not in the repository"
    groups = inventory_groups(load_yaml(source))
    assert {"control_plane", "gateways", "workers"} <= groups, sorted(groups)


def inventory_groups(tree: dict[str, Any]) -> set[str]:
    """Every group a YAML inventory names, at any depth of `children`."""
    found: set[str] = set()
    for name, group in tree.items():
        found.add(name)
        if isinstance(group, dict) and isinstance(group.get("children"), dict):
            found |= inventory_groups(group["children"])
    return found


# --- surveys -----------------------------------------------------------------------------------------------


def test_there_is_a_survey_per_template() -> None:
    assert [path.stem for path in survey_files()] == ["healthcheck", "site", "teardown", "walkthrough"]


@pytest.mark.parametrize("path", survey_files(), ids=lambda p: p.name)
def test_survey_is_a_valid_awx_survey_spec(path: Path) -> None:
    spec = json.loads(path.read_text(encoding="utf-8"))
    assert survey_problems(spec) == []


def question(**overrides: Any) -> dict[str, Any]:
    """A valid text question, with some keys replaced (None removes one)."""
    base: dict[str, Any] = {
        "type": "text",
        "question_name": "q",
        "question_description": "",
        "variable": "v",
        "required": False,
        "default": "",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ({"name": "x", "spec": [question()]}, "missing 'description'"),
        ({"name": "x", "description": "", "spec": []}, "'spec' must be a non-empty list"),
        ({"name": "x", "description": "", "spec": [question(variable=None)]}, "lacks ['variable']"),
        ({"name": "x", "description": "", "spec": [question(type="date")]}, "type 'date' is not one of"),
        (
            {"name": "x", "description": "", "spec": [question(variable="a-b")]},
            "not a valid Ansible variable",
        ),
        (
            {"name": "x", "description": "", "spec": [question(required="yes")]},
            "required must be true or false",
        ),
        (
            {
                "name": "x",
                "description": "",
                "spec": [question(type="multiplechoice", choices=["a"], default="c")],
            },
            "default 'c' is not one of ['a']",
        ),
        (
            {"name": "x", "description": "", "spec": [question(type="multiplechoice")]},
            "needs a list of string",
        ),
        ({"name": "x", "description": "", "spec": [question(default="abc", max=2)]}, "longer than max 2"),
        ({"name": "x", "description": "", "spec": [question(), question()]}, "variable 'v' is asked twice"),
    ],
)
def test_the_survey_checker_finds_broken_specs(broken: dict[str, Any], problem: str) -> None:
    assert any(problem in found for found in survey_problems(broken)), survey_problems(broken)


def test_the_survey_checker_accepts_a_valid_spec() -> None:
    assert survey_problems({"name": "x", "description": "", "spec": [question()]}) == []


def test_surveys_ask_for_the_agreed_variables_with_their_defaults() -> None:
    asked = {
        question["variable"]: question
        for path in survey_files()
        for question in json.loads(path.read_text(encoding="utf-8"))["spec"]
    }
    assert set(asked) == {
        "runtime_service_manager",
        "control_plane_trust_domain",
        "bookinfo_namespace",
        "addons_prometheus_enabled",
        "healthcheck_expected_version",
        "teardown_confirm",
    }
    assert asked["runtime_service_manager"]["choices"] == ["auto", "systemd", "supervisord"]
    assert asked["runtime_service_manager"]["default"] == "auto"
    assert asked["control_plane_trust_domain"]["default"] == "cluster.local"
    assert asked["bookinfo_namespace"]["default"] == "default"
    # AWX passes survey answers as strings: the roles cast this one with `| bool`.
    assert asked["addons_prometheus_enabled"]["choices"] == ["true", "false"]
    assert asked["healthcheck_expected_version"]["required"] is False
    assert asked["healthcheck_expected_version"]["default"] == ""


@pytest.mark.parametrize(
    "variable",
    sorted(
        {
            question["variable"]
            for path in survey_files()
            for question in json.loads(path.read_text(encoding="utf-8"))["spec"]
        }
    ),
)
def test_survey_variable_is_read_by_the_roles_or_playbooks(variable: str) -> None:
    sources = read_variable_sources()
    readers = [path for path, text in sources.items() if re.search(rf"\b{re.escape(variable)}\b", text)]
    assert readers, (
        f"survey variable {variable} is in none of {', '.join(VARIABLE_SOURCES)} "
        f"({len(sources)} files searched): a survey answer nothing reads"
    )


def survey_questions() -> dict[str, dict[str, Any]]:
    return {
        question["variable"]: question
        for path in survey_files()
        for question in json.loads(path.read_text(encoding="utf-8"))["spec"]
    }


def as_survey_answer(value: Any) -> str:
    """A role default as AWX would pass the same choice: a string, booleans as true/false."""
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("variable", sorted(survey_questions()))
def test_survey_default_and_choices_agree_with_the_roles(variable: str) -> None:
    question = survey_questions()[variable]
    for path in sorted(REPO_ROOT.glob("roles/*/defaults/main.yml")):
        defaults = load_yaml(path) or {}
        value = defaults.get(variable)
        if variable not in defaults or (isinstance(value, str) and "{{" in value):
            continue
        # A required question without a default makes the user choose; otherwise it offers the role's default.
        if not (question["required"] and question["default"] == ""):
            assert question["default"] == as_survey_answer(value), f"{path.relative_to(REPO_ROOT)}: {value!r}"
    for path in sorted(REPO_ROOT.glob("roles/*/meta/argument_specs.yml")):
        for entry_point in (load_yaml(path) or {}).get("argument_specs", {}).values():
            option = (entry_point.get("options") or {}).get(variable) or {}
            if "choices" in option and question["type"] in CHOICE_TYPES:
                roles_choices = [as_survey_answer(choice) for choice in option["choices"]]
                assert question["choices"] == roles_choices, f"{path.relative_to(REPO_ROOT)}: {roles_choices}"


# --- execution environment ---------------------------------------------------------------------------------


def execution_environment() -> dict[str, Any]:
    return dict(load_yaml(AWX / "execution-environment.yml"))


def test_execution_environment_is_ansible_builder_version_3() -> None:
    ee = execution_environment()
    assert ee["version"] == 3
    assert set(ee) <= EE_SECTIONS, f"unknown sections: {sorted(set(ee) - EE_SECTIONS)}"
    assert ee["images"]["base_image"]["name"]
    dependencies = ee["dependencies"]
    assert dependencies["ansible_core"]["package_pip"].startswith("ansible-core")
    assert dependencies["ansible_runner"]["package_pip"].startswith("ansible-runner")
    assert "galaxy" not in dependencies, "meshlab.mesh comes with the project, not from Galaxy"


def test_execution_environment_base_image_is_rpm_based() -> None:
    image = execution_environment()["images"]["base_image"]["name"]
    assert re.search(r"centos|ubi[89]|rhel|fedora|ee-minimal", image), image


def test_execution_environment_dependency_files_exist() -> None:
    dependencies = execution_environment()["dependencies"]
    for key in ("python", "system"):
        assert isinstance(dependencies[key], str), f"dependencies.{key} should name a file"
        assert (AWX / dependencies[key]).is_file(), f"dependencies.{key}: awx/{dependencies[key]} is missing"


def test_execution_environment_installs_the_runtime_from_the_wheelhouse() -> None:
    ee = execution_environment()
    requirements = (AWX / ee["dependencies"]["python"]).read_text(encoding="utf-8")
    assert re.search(r"^mesh-runtime==", requirements, re.MULTILINE)
    (wheelhouse,) = [entry for entry in ee["additional_build_files"] if entry["dest"] == "wheelhouse"]
    # The wheelhouse is built (it is not in git): it must be the checkout's build/wheelhouse.
    assert (AWX / wheelhouse["src"]).resolve() == REPO_ROOT / "build" / "wheelhouse"
    steps = ee["additional_build_steps"]
    for stage in ("prepend_builder", "prepend_final"):
        assert "ENV PIP_FIND_LINKS=/build/wheelhouse" in steps[stage], stage
        assert "COPY _build/wheelhouse /build/wheelhouse" in steps[stage], stage


def test_bindep_entries_are_for_rpm_platforms() -> None:
    entries = [
        line
        for line in (AWX / "bindep.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert entries
    for entry in entries:
        assert re.fullmatch(r"[A-Za-z0-9._+-]+ \[platform:rpm( [a-z]+)*\]", entry), entry


def ansible_builder() -> str | None:
    """ansible-builder beside this Python, on PATH, or named by MESHLAB_ANSIBLE_BUILDER."""
    named = os.environ.get("MESHLAB_ANSIBLE_BUILDER")
    if named:
        return named
    beside = Path(sys.executable).parent / "ansible-builder"
    return str(beside) if beside.exists() else shutil.which("ansible-builder")


def test_ansible_builder_renders_the_build_context(tmp_path: Path) -> None:
    builder = ansible_builder()
    assert builder is not None, (
        "ansible-builder is not installed (requirements.txt has it: make setup), "
        "or set MESHLAB_ANSIBLE_BUILDER to its path"
    )
    # A copy of awx/ beside a stand-in wheelhouse, as build/wheelhouse sits beside awx/ in the checkout.
    shutil.copytree(AWX, tmp_path / "awx")
    wheelhouse = tmp_path / "build" / "wheelhouse"
    wheelhouse.mkdir(parents=True)
    (wheelhouse / "mesh_runtime-0.1.0-py3-none-any.whl").write_bytes(b"stand-in")
    context = tmp_path / "context"
    command = [builder, "create", "-f", "awx/execution-environment.yml", "-c", str(context)]
    command += ["--output-filename", "Containerfile"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert containerfile.count("ENV PIP_FIND_LINKS=/build/wheelhouse") == 2
    assert "RUN meshctl version --remote=false" in containerfile
    assert (context / "_build" / "wheelhouse" / "mesh_runtime-0.1.0-py3-none-any.whl").is_file()
    assert "mesh-runtime==0.1.0" in (context / "_build" / "requirements.txt").read_text(encoding="utf-8")
