"""awx/configure_controller.yml run for real by ansible-playbook, with no AWX server.

Without a server the playbook can still be checked: it parses, it stops with a message when the Git URL is
missing, and its first awx.awx task reaches for the controller named by the environment or by the variables
(a closed local port here), with the password passed to the module but never shown.
"""

from __future__ import annotations

import json
import os
import subprocess
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
