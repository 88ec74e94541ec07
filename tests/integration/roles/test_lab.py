"""The lab role's checks, by real ansible-playbook runs of playbooks/lab.yml on this controller: bad input is
refused before anything is made, with a message that names the setting or host and what to do.

Making machines is the Molecule scenario `lab` (molecule/lab); these runs never get that far: each uses a
bridge name, lab directory and cache directory of its own and checks that none of them was created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
LAB_PLAYBOOK = REPO_ROOT / "playbooks" / "lab.yml"
BRIDGE = "mltest0"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the lab role runs as root (it checks for that too)"
)


@dataclass(frozen=True)
class Lab:
    root: Path

    @property
    def lab_dir(self) -> Path:
        return self.root / "lab"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def inventory(self, hosts: dict[str, str], **settings: object) -> Path:
        """An inventory like inventories/lab: the given hosts (name: ansible_host) in the lab group."""
        path = self.root / "hosts.yml"
        all_vars = {
            "lab_provision": True,
            "lab_network": "198.18.250.0/24",
            "lab_bridge": BRIDGE,
            "lab_dir": str(self.lab_dir),
            "lab_run_dir": str(self.root / "run"),
            "lab_cache_dir": str(self.cache_dir),
            **settings,
        }
        inventory = {
            "all": {
                "vars": all_vars,
                "children": {
                    "lab": {"hosts": {name: {"ansible_host": address} for name, address in hosts.items()}}
                },
            }
        }
        path.write_text(yaml.safe_dump(inventory))
        return path

    def nothing_made(self) -> bool:
        bridge = subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, check=False)
        return bridge.returncode != 0 and not self.lab_dir.exists() and not self.cache_dir.exists()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    yield Lab(tmp_path)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)


def run_lab(
    inventory: Path, env: dict[str, str] | None = None, as_nobody: bool = False
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook playbooks/lab.yml, as root or as nobody in a user namespace of its own."""
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(LAB_PLAYBOOK)]
    if as_nobody:
        command = ["unshare", "--user", "--map-user=65534", "--map-group=65534", *command]
    environment = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        **(env or {}),
    }
    return subprocess.run(
        command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


def failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    return " ".join((result.stdout + result.stderr).split())


def test_a_range_overlapping_an_address_of_the_controller_is_refused(lab: Lab) -> None:
    # Loopback's 127.0.0.1 is an address every controller has.
    inventory = lab.inventory({"node01": "127.0.0.10"}, lab_network="127.0.0.0/24")
    message = failure(run_lab(inventory))
    assert "lab_network 127.0.0.0/24 overlaps addresses this controller already has: 127.0.0.1" in message
    assert "pick another range (lab_network" in message
    assert lab.nothing_made()


def test_a_host_name_that_is_no_hostname_is_refused(lab: Lab) -> None:
    inventory = lab.inventory({"node01": "198.18.250.10", "node_2": "198.18.250.11"})
    message = failure(run_lab(inventory))
    assert (
        'lab: host "node_2": a lab machine\'s inventory name is its hostname and must be a valid one'
        in message
    )
    assert "node01" not in message.split("lab: host")[1].split("must be")[0]
    assert lab.nothing_made()


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("198.18.251.10", "outside the range"),
        ("198.18.250.1", "the bridge's address"),
        ("not-an-address", "no address"),
    ],
)
def test_a_machine_address_outside_the_range_or_on_the_bridge_is_refused(
    lab: Lab, address: str, why: str
) -> None:
    inventory = lab.inventory({"node01": address})
    message = failure(run_lab(inventory))
    assert (
        f'its ansible_host "{address}" must be a usable address of lab_network 198.18.250.0/24' in message
    ), why
    assert "e.g. ansible_host: 198.18.250.10" in message
    assert lab.nothing_made()


def test_two_machines_on_one_address_are_refused(lab: Lab) -> None:
    inventory = lab.inventory({"node01": "198.18.250.10", "node02": "198.18.250.10"})
    message = failure(run_lab(inventory))
    assert "and no other machine's" in message
    assert lab.nothing_made()


def test_a_controller_without_debootstrap_is_told_the_package(lab: Lab) -> None:
    # Debian installs debootstrap in /usr/sbin: a PATH without it has everything else the lab looks for.
    path = "/usr/bin:/bin"
    assert not any((Path(directory) / "debootstrap").exists() for directory in path.split(":"))
    inventory = lab.inventory({"node01": "198.18.250.10"})
    message = failure(run_lab(inventory, env={"PATH": path}))
    assert (
        "lab: the controller lacks debootstrap; install debootstrap (apt-get install debootstrap)." in message
    )
    assert lab.nothing_made()


def test_a_controller_not_run_as_root_is_refused(lab: Lab, tmp_path: Path) -> None:
    # In a user namespace this process is nobody (uid 65534), while files are still reached with root's rights
    # outside it: the role sees a non-root controller.
    home = tmp_path / "home"
    home.mkdir()
    inventory = lab.inventory({"node01": "198.18.250.10"})
    result = run_lab(inventory, env={"HOME": str(home)}, as_nobody=True)
    message = failure(result)
    assert "lab: the controller (localhost) runs this as nobody (uid 65534)" in message
    assert "making machines, bridges and root filesystems needs root" in message
    assert lab.nothing_made()


def test_without_lab_provision_nothing_is_done(lab: Lab) -> None:
    inventory = lab.inventory({"node01": "198.18.250.10"}, lab_provision=False)
    result = run_lab(inventory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=0" in result.stdout
    assert lab.nothing_made()
