"""awx/configure_controller.yml run for real by ansible-playbook, with no AWX server.

Without a server the playbook can still be checked: it parses, it stops with a message when the Git URL is
missing, and its first awx.awx task reaches for the controller named by the environment or by the variables
(a closed local port here), with the password passed to the module but never shown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.plugins.ansible_run import REPO_ROOT, PlaybookRun, beside_python
from tests.ports import free_port

PLAYBOOK = "awx/configure_controller.yml"
SECRET = "not-a-real-password-4711"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


def ansible_playbook(*args: str, env: dict[str, str] | None = None, json_report: bool = True) -> PlaybookRun:
    executable = beside_python("ansible-playbook")
    if executable is None:
        pytest.fail("ansible-playbook not found beside this Python nor on PATH: run `make setup`")
    command = [str(executable), PLAYBOOK, *args]
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("CONTROLLER_", "TOWER_"))}
    clean.update(ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", LC_ALL="C.UTF-8")
    if json_report:
        clean["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    clean.update(env or {})
    proc = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    run = PlaybookRun(command, proc.returncode, proc.stdout, proc.stderr)
    if json_report:
        try:
            run.report = json.loads(proc.stdout)
        except ValueError:
            pytest.fail(f"{' '.join(command)} exited {proc.returncode} without a JSON report:\n{proc.stdout}")
    return run


def module_args(run: PlaybookRun, task: str) -> dict[str, Any]:
    return dict(run.result(task)["invocation"]["module_args"])


def test_syntax_check_passes() -> None:
    run = ansible_playbook("--syntax-check", json_report=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "playbook: awx/configure_controller.yml" in run.stdout


def test_a_missing_git_url_stops_the_play_with_a_message() -> None:
    run = ansible_playbook()
    assert run.returncode == 2
    assert run.failed_tasks() == ["Require the repository's Git URL"]
    message = run.result("Require the repository's Git URL")["msg"]
    assert "meshlab_awx_scm_url is empty" in message and "-e meshlab_awx_scm_url=" in message


def test_controller_from_the_environment_reaches_every_awx_module() -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    run = ansible_playbook(
        "-e",
        "meshlab_awx_scm_url=https://git.example.org/meshlab.git",
        env={"CONTROLLER_HOST": host, "CONTROLLER_USERNAME": "admin", "CONTROLLER_PASSWORD": SECRET},
    )
    assert run.returncode == 2
    assert run.failed_tasks() == ["Create the organization"]
    args = module_args(run, "Create the organization")
    assert args["controller_host"] == host
    assert args["controller_username"] == "admin"
    assert args["controller_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert SECRET not in run.stdout + run.stderr


def test_controller_from_variables_wins_over_the_environment() -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    extra = {
        "meshlab_awx_scm_url": "https://git.example.org/meshlab.git",
        "controller_host": host,
        "controller_oauthtoken": SECRET,
        "controller_validate_certs": False,
    }
    run = ansible_playbook("-e", json.dumps(extra), env={"CONTROLLER_HOST": "http://127.0.0.1:1"})
    assert run.failed_tasks() == ["Create the organization"]
    args = module_args(run, "Create the organization")
    assert args["controller_host"] == host
    assert args["validate_certs"] is False
    assert args["controller_oauthtoken"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert SECRET not in run.stdout + run.stderr


JOB_TEMPLATES_TASK = "Create the job templates with their surveys"


def job_template_args(*args: str) -> dict[str, dict[str, Any]]:
    """What awx.awx.job_template receives for each template (the controller is a closed port)."""
    extra = {"meshlab_awx_scm_url": "https://git.example.org/meshlab.git"}
    run = ansible_playbook(
        "--start-at-task",
        JOB_TEMPLATES_TASK,
        "-e",
        json.dumps(extra),
        *args,
        env={"CONTROLLER_HOST": f"http://127.0.0.1:{closed_port()}"},
    )
    assert run.failed_tasks() == [JOB_TEMPLATES_TASK]
    items = run.result(JOB_TEMPLATES_TASK)["results"]
    return {item["item"]["name"]: dict(item["invocation"]["module_args"]) for item in items}


def test_job_templates_run_against_the_lab_inventory_unless_another_is_named() -> None:
    default = job_template_args()
    named = job_template_args("-e", json.dumps({"meshlab_awx_inventory_name": "prod machines"}))

    assert (
        sorted(default)
        == sorted(named)
        == sorted(["meshlab site", "meshlab healthcheck", "meshlab walkthrough", "meshlab teardown"])
    )
    for name, args in default.items():
        assert args["inventory"] == "meshlab lab", name
        assert named[name]["inventory"] == "prod machines", name
        # A launch may name another inventory; AWX reaches the machines, it never makes them itself.
        assert args["ask_inventory_on_launch"] is True, name
        assert args["extra_vars"]["lab_provision"] is False, name


def test_the_site_surveys_namespace_is_labelled_for_injection(tmp_path: Path) -> None:
    """The site template's extra variables, as AWX passes them to the job with the survey's answer."""
    site = job_template_args()["meshlab site"]
    extravars = tmp_path / "extravars"
    extravars.write_text(json.dumps(site["extra_vars"] | {"bookinfo_namespace": "shop"}))
    probe = tmp_path / "probe.yml"
    probe.write_text(
        "- name: What the site job labels\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Check the namespaces to label\n"
        "      ansible.builtin.include_role:\n"
        "        name: meshlab.mesh.injection\n"
        "        tasks_from: preflight\n"
        "    - name: Show them\n"
        "      ansible.builtin.debug:\n"
        "        var: injection_namespaces\n"
    )
    executable = beside_python("ansible-playbook")
    assert executable is not None
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
    )
    # The groups every inventory of the collection has (the roles find meshd through control_plane).
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "localhost\n[control_plane]\nlocalhost\n[gateways]\nlocalhost\n[workers]\nlocalhost\n"
    )
    command = [str(executable), "-i", str(inventory), "-c", "local", "-e", f"@{extravars}", str(probe)]
    command += ["-e", json.dumps({"ansible_python_interpreter": sys.executable})]
    proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    run = PlaybookRun(command, proc.returncode, proc.stdout, proc.stderr, json.loads(proc.stdout))

    assert run.returncode == 0, proc.stdout
    assert run.result("Show them")["injection_namespaces"] == [
        {"name": "shop", "labels": {"istio-injection": "enabled"}}
    ]


def test_an_inventory_of_the_controllers_own_is_looked_up_before_anything_is_made() -> None:
    extra = {
        "meshlab_awx_scm_url": "https://git.example.org/meshlab.git",
        "meshlab_awx_inventory_source_path": "",
    }
    run = ansible_playbook(
        "-e",
        json.dumps(extra | {"meshlab_awx_inventory_name": "prod machines"}),
        env={"CONTROLLER_HOST": f"http://127.0.0.1:{closed_port()}"},
    )

    task = "Check that the inventory the job templates use exists"
    assert run.failed_tasks() == [task]
    args = module_args(run, task)
    assert (args["name"], args["organization"], args["state"]) == ("prod machines", "Default", "exists")
