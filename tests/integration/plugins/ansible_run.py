"""Run real playbooks against this machine (inventories/local) and read every task's result.

The playbooks use the collection from the checkout (ansible.cfg, collections/) and the real meshctl
installed beside the Python running the tests (.venv/bin/meshctl under `make test`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
INVENTORY = REPO_ROOT / "inventories" / "local"
PLAYBOOKS = Path(__file__).resolve().parent / "modules" / "playbooks"
HOST = "localhost"


def beside_python(name: str) -> Path | None:
    """A console script of the environment running the tests, else one on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    return Path(found) if found else None


@dataclass
class PlaybookRun:
    """One ansible-playbook run, read through the ansible.posix.json callback."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.report["stats"][HOST])

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        """Each task's result on localhost, by task name (names are unique in these playbooks)."""
        found: dict[str, dict[str, Any]] = {}
        for play in self.report["plays"]:
            for task in play["tasks"]:
                name = task["task"]["name"]
                assert name not in found, f"task name {name!r} is used twice"
                found[name] = task["hosts"][HOST]
        return found

    def result(self, name: str) -> dict[str, Any]:
        results = self.results
        assert name in results, f"no task {name!r}; tasks: {sorted(results)}"
        return results[name]

    def failed_tasks(self) -> list[str]:
        return [name for name, result in self.results.items() if result.get("failed")]


def run_playbook(playbook: str, extra_vars: dict[str, Any], check: bool = False) -> PlaybookRun:
    ansible_playbook = beside_python("ansible-playbook")
    if ansible_playbook is None:
        pytest.fail("ansible-playbook not found beside this Python nor on PATH: run `make setup`")
    command = [str(ansible_playbook), "-i", str(INVENTORY), str(PLAYBOOKS / playbook)]
    command += ["--extra-vars", json.dumps(extra_vars)]
    if check:
        command.append("--check")
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        LC_ALL="C.UTF-8",
        LANG="C.UTF-8",
    )
    proc = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600
    )
    run = PlaybookRun(command, proc.returncode, proc.stdout, proc.stderr)
    try:
        run.report = json.loads(proc.stdout)
    except ValueError:
        shown = " ".join(command)
        pytest.fail(f"{shown} exited {proc.returncode} without a JSON report:\n{proc.stdout}\n{proc.stderr}")
    return run
