"""The collection artifact, as a user gets it: built by `make collection`, installed with `ansible-galaxy
collection install` into a fresh collections path, used from a directory with no checkout and an empty
ansible.cfg.

The rollout (`meshlab.mesh.site`) runs for real against the shipped `inventories/local`, its host made an
isolated one by a second inventory source (tests/integration/isolated_host.py: every path under a temporary
directory, a supervisord of its own; the roles' default ports, free in a network namespace of the test's
own), then `meshlab.mesh.healthcheck`, then a check-mode `meshlab.mesh.site`. The runtime role must find the
runtime's and Bookinfo's wheels inside the installed collection and build its wheelhouse in the controller's
cache ($XDG_CACHE_HOME), writing nothing into the installed collection. An artifact built without the wheels
(`ansible-galaxy collection build` of the checkout alone) must stop the rollout with a message before
anything reaches the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.isolated_host import (
    ANSIBLE_PLAYBOOK,
    REPO_ROOT,
    Host,
    Run,
    stop_supervisord,
)

ANSIBLE_GALAXY = Path(sys.executable).parent / "ansible-galaxy"
PROJECT_WHEELS = ("mesh_runtime-", "meshlab_bookinfo-")
WHEELS_DIR = "roles/runtime/files/wheels"


def bundled_collections() -> Path:
    """The directory holding the `ansible` package's ansible_collections/ (community.general among them)."""
    for entry in sys.path:
        if (Path(entry) / "ansible_collections" / "community" / "general" / "MANIFEST.json").is_file():
            return Path(entry)
    pytest.fail("the `ansible` package (which bundles community.general) is not installed: run `make setup`")


@dataclass
class Installed:
    """An installed artifact and the clean place it is used from."""

    collections: Path
    work: Path
    install_output: str

    @property
    def root(self) -> Path:
        return self.collections / "ansible_collections" / "meshlab" / "mesh"

    def environment(self, cache: Path) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
        # An empty ansible.cfg: Ansible's defaults, whatever /etc/ansible or ~ hold.
        config = self.work / "ansible.cfg"
        config.touch()
        env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            ANSIBLE_CONFIG=str(config),
            ANSIBLE_COLLECTIONS_PATH=f"{self.collections}{os.pathsep}{bundled_collections()}",
            ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=str(self.work / "ansible-tmp"),
            XDG_CACHE_HOME=str(cache),
        )
        env.pop("MESHLAB_CREDENTIALS_DIR", None)
        return env

    @property
    def local_inventory(self) -> Path:
        """The example inventory the artifact ships: this machine alone, without SSH."""
        return self.root / "inventories" / "local"

    def playbook(self, name: str, site: IsolatedSite, *options: str) -> Run:
        """`ansible-playbook -i inventories/local meshlab.mesh.NAME` as a user runs the collection's playbook
        NAME on this machine, with the isolated host's paths and ports as a second inventory source."""
        command = [
            *site.network.prefix(),
            str(ANSIBLE_PLAYBOOK),
            "-v",
            *options,
            "-i",
            str(self.local_inventory),
            "-i",
            str(site.inventory),
            name,
        ]
        proc = subprocess.run(
            command,
            cwd=self.work,
            env=self.environment(site.cache) | site.environment(),
            capture_output=True,
            text=True,
            check=False,
            timeout=1500,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)


def make_collection(destination: Path) -> Path:
    """`make collection` into `destination`: the artifact's path."""
    proc = subprocess.run(
        [
            "make",
            "-C",
            str(REPO_ROOT),
            "--no-print-directory",
            "collection",
            f"COLLECTION_STAGE={destination / 'stage'}",
            f"COLLECTION_DIST={destination / 'dist'}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (artifact,) = (destination / "dist").glob("meshlab-mesh-*.tar.gz")
    return artifact


def install(artifact: Path, base: Path) -> Installed:
    """`ansible-galaxy collection install ARTIFACT -p PATH` from a directory with nothing of the checkout."""
    work = base / "work"
    work.mkdir(parents=True)
    installed = Installed(collections=base / "collections", work=work, install_output="")
    proc = subprocess.run(
        [str(ANSIBLE_GALAXY), "collection", "install", str(artifact), "-p", str(installed.collections)],
        cwd=work,
        env=installed.environment(base / "cache"),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed.install_output = proc.stdout + proc.stderr
    return installed


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` and its sha256 (what the rollout must leave as it was)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@dataclass
class PrivateNetwork:
    """A network namespace of its own, with only a loopback: every port is free in it, the usual ones too."""

    holder: subprocess.Popen[str]

    def prefix(self) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--"]


@contextlib.contextmanager
def private_network() -> Iterator[PrivateNetwork]:
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: the artifact test runs the mesh in a network namespace")
    holder = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep 86400"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != "up":
        holder.kill()
        _, errors = holder.communicate()
        pytest.fail(f"cannot make a network namespace (unshare --net, as root): {errors}")
    try:
        yield PrivateNetwork(holder)
    finally:
        holder.kill()
        holder.communicate()


def seed_dependencies(wheelhouse: Path, shipped: list[Path]) -> None:
    """The runtime's dependencies, fetched beforehand: the private network reaches no package index. The
    projects' own wheels are left out: the runtime role must take them from the installed collection."""
    wheelhouse.mkdir(parents=True)
    for wheel in (REPO_ROOT / "build" / "wheelhouse").glob("*.whl"):
        shutil.copy2(wheel, wheelhouse / wheel.name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "wheel"]
    proc = subprocess.run(
        [
            *pip,
            "--find-links",
            str(wheelhouse),
            "--wheel-dir",
            str(wheelhouse),
            *map(str, shipped),
            "supervisor",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for wheel in wheelhouse.glob("*.whl"):
        if wheel.name.startswith(PROJECT_WHEELS):
            wheel.unlink()


@dataclass
class IsolatedSite:
    """An isolated host (its paths under temporary directories) in a private network, where the roles'
    default ports are free: meshctl, as the roles run it, reaches meshd on them (127.0.0.1:15080, :15014)."""

    host: Host
    network: PrivateNetwork
    inventory: Path
    cache: Path

    @property
    def wheelhouse(self) -> Path:
        return self.cache / "meshlab" / "wheelhouse"

    def environment(self) -> dict[str, str]:
        """meshctl finds meshd's admin token and root certificate in its data directory, which the roles
        after control_plane do not name (meshctl's default is /var/lib/meshd, another mesh's here)."""
        return {"MESHD_DATA_DIR": str(self.host.data_dir)}


def isolated_site(base: Path, controller: Path, network: PrivateNetwork) -> IsolatedSite:
    host = Host(
        base=base, controller=controller, ports={"discovery": 15012, "api": 15080, "monitoring": 15014}
    )
    variables = host.variables()
    # The role's defaults locate the projects (the artifact's wheels) and the wheelhouse (the cache).
    del variables["runtime_projects"], variables["runtime_controller_wheelhouse"]
    variables |= {
        "meshlab_address": "127.0.0.1",
        # Prometheus comes from the distribution's package, which the private network cannot fetch.
        "addons_prometheus_enabled": Path("/usr/bin/prometheus").is_file(),
    }
    # Only localhost's variables: its groups come from the shipped inventories/local.
    inventory = controller / "isolated.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": variables}}}, indent=2))
    return IsolatedSite(host=host, network=network, inventory=inventory, cache=controller / "cache")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_collection(tmp_path_factory.mktemp("artifact"))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[IsolatedSite]:
    base = Path(tempfile.mkdtemp(prefix="ml-", dir="/tmp"))
    controller = tmp_path / "controller"
    controller.mkdir()
    host = Host(base=base, controller=controller, ports={})
    with private_network() as network:
        try:
            yield isolated_site(base, controller, network)
        finally:
            left = stop_supervisord(host)
            shutil.rmtree(base, ignore_errors=True)
    assert left == [], f"processes were left running under {base}: {left}"


def test_the_artifact_ships_the_wheels_and_the_example_inventories_not_the_checkout(artifact: Path) -> None:
    with tarfile.open(artifact) as archive:
        names = set(archive.getnames())

    wheels = sorted(Path(name).name for name in names if name.startswith(WHEELS_DIR + "/"))
    assert [wheel.split("-", 1)[0] + "-" for wheel in wheels] == sorted(PROJECT_WHEELS), wheels
    assert {"inventories/local/hosts.yml", "inventories/lab/hosts.yml", "meta/ee-requirements.txt"} <= names
    assert {"playbooks/site.yml", "playbooks/healthcheck.yml", "changelogs/changelog.yaml"} <= names
    leaked = sorted(
        name
        for name in names
        if name.split("/")[0]
        in {"mesh_runtime", "samples", "tests", "build", "collections", "bench", ".venv"}
        or name in {"ansible.cfg", "Makefile", "requirements.txt"}
    )
    assert leaked == []


def test_the_installed_artifact_rolls_the_mesh_out_without_the_checkout(
    artifact: Path, site: IsolatedSite, tmp_path: Path
) -> None:
    installed = install(artifact, tmp_path / "user")
    # The declared dependencies resolve offline, from the collections the `ansible` package bundles.
    for dependency in ("community.general", "ansible.utils", "community.crypto"):
        skipped = rf"'{re.escape(dependency)}:[^']+' is already installed, skipping"
        assert re.search(skipped, installed.install_output), installed.install_output
    assert not (installed.root / "mesh_runtime").exists()
    shipped = sorted((installed.root / WHEELS_DIR).glob("*.whl"))
    seed_dependencies(site.wheelhouse, shipped)
    before = tree_digest(installed.root)

    rollout = installed.playbook("meshlab.mesh.site", site)
    assert rollout.returncode == 0, rollout.output
    assert rollout.recap()["failed"] == 0

    # The role took the shipped wheels into the controller's cache and installed the host from there.
    for wheel in shipped:
        assert (site.wheelhouse / wheel.name).read_bytes() == wheel.read_bytes()
    assert (site.host.venv / "bin" / "meshctl").exists()

    healthcheck = installed.playbook("meshlab.mesh.healthcheck", site)
    assert healthcheck.returncode == 0, healthcheck.output
    assert healthcheck.recap()["failed"] == 0
    assert healthcheck.recap()["changed"] == 0, healthcheck.stdout

    checked = installed.playbook("meshlab.mesh.site", site, "--check", "--diff")
    assert checked.returncode == 0, checked.output
    assert checked.recap()["failed"] == 0

    assert tree_digest(installed.root) == before, "the rollout wrote into the installed collection"


def test_an_artifact_without_the_wheels_stops_before_the_host_is_touched(
    site: IsolatedSite, tmp_path: Path
) -> None:
    # What `ansible-galaxy collection build` of the checkout alone gives: no roles/runtime/files/wheels.
    dist = tmp_path / "bare"
    proc = subprocess.run(
        [str(ANSIBLE_GALAXY), "collection", "build", "--output-path", str(dist), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (bare,) = dist.glob("meshlab-mesh-*.tar.gz")
    installed = install(bare, tmp_path / "user")

    run = installed.playbook("meshlab.mesh.site", site)

    assert run.returncode == 2, run.output
    assert "runtime_projects is empty" in run.stdout
    assert str(installed.root) in run.stdout
    assert "make collection" in run.stdout
    assert not site.host.venv.exists()
    assert not site.wheelhouse.exists()
