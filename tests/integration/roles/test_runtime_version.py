"""The runtime's version pin (meshlab_version, the runtime role's runtime_version), by real runs of
playbooks/preflight.yml on an isolated host: the version the controller's projects hold passes, another one
stops the run before anything changes, naming both versions and what to do."""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.isolated_host import REPO_ROOT
from tests.integration.playbooks.mesh_host import mesh_host

VERSION = re.search(r'(?m)^version = "([^"]+)"', (REPO_ROOT / "mesh_runtime" / "pyproject.toml").read_text())


def test_the_version_the_projects_hold_passes_and_another_stops_the_run(tmp_path: Path) -> None:
    assert VERSION is not None
    version = VERSION.group(1)
    with mesh_host(tmp_path) as mesh:
        pinned = mesh.run("preflight.yml", "pinned", extra_vars={"meshlab_version": version})
        other = mesh.run("preflight.yml", "other", extra_vars={"meshlab_version": "9.9.9"})
        left = list(mesh.host.base.iterdir())

    assert pinned.returncode == 0, pinned.output
    assert other.returncode != 0
    assert (
        f'meshlab_version (runtime_version) is "9.9.9", but the runtime this run would install is "{version}"'
        in other.output
    )
    assert "ansible-galaxy collection install 'meshlab.mesh:==9.9.9'" in other.output
    assert other.recap()["changed"] == 0
    assert left == []
