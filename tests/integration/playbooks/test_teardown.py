"""playbooks/teardown.yml, run for real against an isolated lab (tests/integration/isolated_host.py).

A lab is installed by the runtime and control_plane roles; teardown.yml must then leave nothing of it,
whether meshlab's supervisord is running or was killed and left its socket and pid file behind (a crash, or
a reboot on a host whose /run is not a tmpfs), and a second teardown changes nothing. The same stale state
must not stop the roles either: run again, they start supervisord and meshd anew.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.isolated_host import (
    MESH_PLAYBOOK,
    REPO_ROOT,
    Host,
    Run,
    free_ports,
    processes_under,
    run_playbook,
    run_playbook_file,
    seed_controller,
    stop_supervisord,
    wait_for_exit,
    write_inventory,
)

TEARDOWN = REPO_ROOT / "playbooks" / "teardown.yml"


@dataclass
class InstalledLab:
    host: Host
    inventory: Path
    work: Path

    def teardown_variables(self) -> dict[str, Any]:
        """The lab's own ports and state directory (play variables, so given as extra vars)."""
        return {
            "teardown_ports": sorted(self.host.ports.values()),
            "teardown_state_dir": str(self.host.base / "state"),
        }

    def teardown(self, name: str, extra_vars: dict[str, Any] | None = None) -> Run:
        variables = self.teardown_variables() | (extra_vars or {})
        return run_playbook_file(TEARDOWN, self.work / name, self.inventory, variables)

    def install(self, name: str) -> Run:
        return run_playbook(MESH_PLAYBOOK, self.work / name, self.inventory)

    def meshd_is_ready(self) -> bool:
        url = f"http://127.0.0.1:{self.host.ports['monitoring']}/ready"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status == 200
        except OSError:
            return False

    def crash(self) -> None:
        """Kill supervisord and everything under it at once: its socket and pid file stay behind."""
        pids = processes_under(self.host.base)
        assert pids, "nothing of the lab was running"
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            wait_for_exit(pid)
        assert (self.host.run_dir / "supervisord.pid").exists()
        assert (self.host.run_dir / "supervisor.sock").exists()

    def leftovers(self) -> list[str]:
        return sorted(str(path.relative_to(self.host.base)) for path in self.host.base.iterdir())


@pytest.fixture
def installed_lab(tmp_path: Path) -> Iterator[InstalledLab]:
    base = Path(tempfile.mkdtemp(prefix="ml-", dir="/tmp"))
    discovery, api, monitoring = free_ports(3)
    host = Host(
        base=base, controller=tmp_path, ports={"discovery": discovery, "api": api, "monitoring": monitoring}
    )
    (base / "state").mkdir()
    try:
        seed_controller(tmp_path)
        inventory = write_inventory(tmp_path / "inventory.json", host.variables())
        lab = InstalledLab(host=host, inventory=inventory, work=tmp_path)
        installed = lab.install("install")
        assert installed.returncode == 0, installed.output
        assert lab.meshd_is_ready()
        yield lab
    finally:
        left = stop_supervisord(host)
        shutil.rmtree(base, ignore_errors=True)
    assert left == [], f"processes were left running under {base}: {left}"


def test_teardown_removes_a_running_mesh_only_when_asked_and_once(installed_lab: InstalledLab) -> None:
    state = installed_lab.host.base / "state"
    (state / "someone-elses").write_text("kept\n")
    installed = installed_lab.leftovers()

    checked = run_playbook_file(
        TEARDOWN,
        installed_lab.work / "check",
        installed_lab.inventory,
        installed_lab.teardown_variables(),
        options=["--check"],
    )
    unconfirmed = installed_lab.teardown("unconfirmed", {"teardown_confirm": "no"})

    assert checked.returncode == 0, checked.output
    assert unconfirmed.returncode == 0, unconfirmed.output
    assert installed_lab.leftovers() == installed
    assert installed_lab.meshd_is_ready()

    first = installed_lab.teardown("first")
    second = installed_lab.teardown("second")

    assert first.returncode == 0, first.output
    assert first.recap()["changed"] > 0
    assert processes_under(installed_lab.host.base) == []
    assert not installed_lab.meshd_is_ready()
    # Everything but the state directory, which holds something that is not the mesh's.
    assert installed_lab.leftovers() == ["state"]
    assert (state / "someone-elses").read_text() == "kept\n"
    assert second.returncode == 0, second.output
    assert second.recap()["changed"] == 0, second.stdout


def test_a_killed_supervisord_neither_stops_the_roles_nor_teardown(installed_lab: InstalledLab) -> None:
    installed_lab.crash()

    again = installed_lab.install("again")

    assert again.returncode == 0, again.output
    assert installed_lab.meshd_is_ready()

    installed_lab.crash()
    run = installed_lab.teardown("after-crash")

    assert run.returncode == 0, run.output
    assert run.recap()["failed"] == 0
    assert processes_under(installed_lab.host.base) == []
    assert installed_lab.leftovers() == []
