"""One host's worth of meshlab, installed by the real roles under one short temporary directory.

A lab here is this machine with every path the roles write to moved under a temporary directory (short:
supervisord's socket path must stay short), on free ports, under a supervisord of its own, so nothing
touches a mesh already running here. The controller's side (wheelhouse, credentials) lives in another
temporary directory, with a snapshot of mesh_runtime (and the checkout's dependency wheels when there are
any), so edits to the checkout during a run change nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.ports import free_ports as free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
RECAP = re.compile(
    r"^localhost\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.MULTILINE,
)
SNAPSHOT_IGNORED = (
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)
CONTROL_PLANE_PLAY = """\
- name: Run the control plane
  hosts: control_plane
  gather_facts: false
  roles:
    - role: meshlab.mesh.control_plane
"""
MESH_PLAYBOOK = (
    """\
- name: Install the runtime
  hosts: all
  gather_facts: false
  roles:
    - role: meshlab.mesh.runtime

"""
    + CONTROL_PLANE_PLAY
)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def recap(self) -> dict[str, int]:
        found = RECAP.search(self.stdout)
        assert found is not None, f"no PLAY RECAP for localhost:\n{self.output}"
        return {key: int(value) for key, value in found.groupdict().items()}


@dataclass
class Host:
    """Where the roles put things on the host, and what the controller keeps."""

    base: Path
    controller: Path
    ports: dict[str, int]

    @property
    def venv(self) -> Path:
        return self.base / "opt" / "venv"

    @property
    def config_dir(self) -> Path:
        return self.base / "etc"

    @property
    def run_dir(self) -> Path:
        return self.base / "run"

    @property
    def data_dir(self) -> Path:
        return self.base / "meshd"

    @property
    def credentials_dir(self) -> Path:
        return self.controller / "credentials"

    def variables(self) -> dict[str, Any]:
        return {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "runtime_prefix": str(self.base / "opt"),
            "runtime_venv": str(self.venv),
            "runtime_wheelhouse": str(self.base / "opt" / "wheelhouse"),
            "runtime_config_dir": str(self.config_dir),
            "runtime_log_dir": str(self.base / "log"),
            "runtime_run_dir": str(self.run_dir),
            "runtime_python": str(Path(sys.base_prefix) / "bin" / "python3"),
            "runtime_service_manager": "supervisord",
            "runtime_controller_wheelhouse": str(self.controller / "wheelhouse"),
            "runtime_projects": [str(self.controller / "mesh_runtime")],
            "control_plane_data_dir": str(self.data_dir),
            "control_plane_credentials_dir": str(self.credentials_dir),
            "control_plane_listen_address": "127.0.0.1",
            "control_plane_discovery_port": self.ports["discovery"],
            "control_plane_api_port": self.ports["api"],
            "control_plane_monitoring_port": self.ports["monitoring"],
            "gateways_proxy_dir": str(self.base / "proxies"),
            "bookinfo_proxy_dir": str(self.base / "proxies"),
            "bookinfo_state_dir": str(self.base / "bookinfo"),
            "addons_prometheus_config_dir": str(self.base / "etc" / "prometheus"),
            "addons_prometheus_data_dir": str(self.base / "prometheus"),
        }


def write_inventory(path: Path, host_vars: dict[str, Any]) -> Path:
    localhost = {"hosts": {"localhost": {}}}
    inventory = {
        "all": {
            "hosts": {"localhost": host_vars},
            "children": {"control_plane": localhost, "gateways": localhost, "workers": localhost},
        }
    }
    path.write_text(json.dumps(inventory, indent=2))
    return path


def run_playbook(
    playbook_text: str, directory: Path, inventory: Path, extra_vars: dict[str, Any] | None = None
) -> Run:
    """Run a playbook given as text (written to `directory`, which also holds Ansible's temporary files)."""
    directory.mkdir(parents=True, exist_ok=True)
    playbook = directory / "playbook.yml"
    playbook.write_text(playbook_text)
    return run_playbook_file(playbook, directory, inventory, extra_vars)


def run_playbook_file(
    playbook: Path,
    directory: Path,
    inventory: Path,
    extra_vars: dict[str, Any] | None = None,
    options: Sequence[str] = (),
) -> Run:
    """Run one of the collection's playbooks (or any playbook file) against the lab's inventory."""
    directory.mkdir(parents=True, exist_ok=True)
    command = [str(ANSIBLE_PLAYBOOK), "-v", "--diff", *options, "-i", str(inventory), str(playbook)]
    if extra_vars:
        command += ["--extra-vars", json.dumps(extra_vars)]
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(directory / "ansible-tmp"),
    )
    env.pop("MESHLAB_CREDENTIALS_DIR", None)
    proc = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False, timeout=1200
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def seed_controller(controller: Path) -> None:
    """A snapshot of mesh_runtime and a wheelhouse seeded with the checkout's dependency wheels."""
    shutil.copytree(
        REPO_ROOT / "mesh_runtime",
        controller / "mesh_runtime",
        ignore=shutil.ignore_patterns(*SNAPSHOT_IGNORED),
    )
    wheelhouse = controller / "wheelhouse"
    wheelhouse.mkdir()
    for wheel in (REPO_ROOT / "build" / "wheelhouse").glob("*.whl"):
        if not wheel.name.startswith(("mesh_runtime-", "meshlab_bookinfo-")):
            shutil.copy2(wheel, wheelhouse / wheel.name)


def processes_under(base: Path) -> list[int]:
    proc = subprocess.run(["pgrep", "-f", str(base)], capture_output=True, text=True, check=False)
    return [int(pid) for pid in proc.stdout.split() if int(pid) != os.getpid()]


def wait_for_exit(pid: int, attempts: int = 100) -> bool:
    for _ in range(attempts):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def stop_supervisord(host: Host) -> list[int]:
    """Shut down the lab's supervisord (and so meshd); return whatever was still running under the lab."""
    pid_file = host.run_dir / "supervisord.pid"
    supervisorctl = host.venv / "bin" / "supervisorctl"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    if supervisorctl.exists():
        subprocess.run(
            [str(supervisorctl), "-c", str(host.config_dir / "supervisord.conf"), "shutdown"],
            capture_output=True,
            check=False,
            timeout=60,
        )
    if pid is not None:
        wait_for_exit(pid)
    left = processes_under(host.base)
    for leftover in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(leftover, signal.SIGKILL)
    return left
