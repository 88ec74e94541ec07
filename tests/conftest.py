"""Fixtures shared by every test: where ../shared is, and running meshctl in-process or as a process."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The read-only `shared/` folder beside the checkout (override with MESHLAB_SHARED)."""
    return Path(os.environ.get("MESHLAB_SHARED", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not (path / "reference").is_dir():
        pytest.fail(f"shared/ not found at {path}: set MESHLAB_SHARED to its path")
    return path


@pytest.fixture(scope="session")
def istio_reference(shared: Path) -> Path:
    return shared / "reference" / "istio"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


MeshctlRunner = Callable[..., Result]


@pytest.fixture
def meshctl() -> MeshctlRunner:
    """Run meshctl in-process: `meshctl("analyze", "--use-kube=false", path, stdin="...")`."""
    from mesh_runtime.cli.main import run

    def invoke(*argv: str, stdin: str = "") -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = run(list(argv), io.StringIO(stdin), out, err)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture(scope="session")
def meshctl_executable() -> list[str]:
    """The installed `meshctl` console script (the one users run), else the module via this Python."""
    beside = Path(sys.executable).parent / "meshctl"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("meshctl")
    return [found] if found else [sys.executable, "-m", "mesh_runtime.cli"]


@pytest.fixture
def meshctl_process(meshctl_executable: list[str]) -> MeshctlRunner:
    """Run meshctl as a real process."""

    def invoke(*argv: str, stdin: str = "", cwd: str | Path | None = None, timeout: float = 60) -> Result:
        proc = subprocess.run(
            [*meshctl_executable, *argv],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return invoke
