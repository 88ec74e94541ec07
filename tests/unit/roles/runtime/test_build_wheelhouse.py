"""roles/runtime/files/build_wheelhouse.py, run as the runtime role runs it, on a tiny throwaway project.

The project has no dependencies, so the script's resolution against the wheelhouse succeeds without any
package index; its build backend (setuptools) comes from the machine's configured wheels.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
SCRIPT = REPO_ROOT / "roles" / "runtime" / "files" / "build_wheelhouse.py"
PROJECT = "meshlab_wheelhouse_probe"


def write_project(directory: Path, version: str = "0.1.0", greeting: str = "hello") -> Path:
    package = directory / "src" / PROJECT
    package.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        f'name = "{PROJECT}"\n'
        f'version = "{version}"\n'
        'requires-python = ">=3.11"\n'
    )
    (package / "__init__.py").write_text(f"GREETING = {greeting!r}\n")
    return directory


def run_script(wheelhouse: Path, mode: str, *projects: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(wheelhouse), mode, *map(str, projects)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def build(wheelhouse: Path, mode: str, *projects: Path) -> dict[str, Any]:
    proc = run_script(wheelhouse, mode, *projects)
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def members_digest(wheel: Path) -> str:
    """The digest the script promises: names and bytes of the members, whatever their timestamps."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name) + b"\0")
    return digest.hexdigest()


def snapshot(wheelhouse: Path) -> dict[str, tuple[bytes, int]]:
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in wheelhouse.iterdir()}


def module_text(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(f"{PROJECT}/__init__.py").decode()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "probe")


def test_apply_builds_the_wheel_then_changes_nothing(tmp_path: Path, project: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    wheel_name = f"{PROJECT}-0.1.0-py3-none-any.whl"

    first = build(wheelhouse, "apply", project)

    assert first["changed"] is True
    assert first["wheelhouse"] == str(wheelhouse)
    assert first["wheels"] == [wheel_name]
    assert sorted(path.name for path in wheelhouse.iterdir()) == [wheel_name]
    wheel = wheelhouse / wheel_name
    digest = members_digest(wheel)
    assert first["projects"] == {PROJECT: {"wheel": wheel_name, "digest": digest}}
    assert first["digests"] == {PROJECT: digest}
    assert first["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert module_text(wheel) == "GREETING = 'hello'\n"
    before = snapshot(wheelhouse)

    second = build(wheelhouse, "apply", project)

    assert second["changed"] is False
    assert second["digests"] == {PROJECT: digest}
    assert snapshot(wheelhouse) == before


def test_two_checkouts_of_the_same_sources_give_the_same_wheel_bytes(tmp_path: Path, project: Path) -> None:
    other = tmp_path / "other-checkout"
    shutil.copytree(project, other)
    for path in other.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))  # another checkout: other file times

    build(tmp_path / "one", "apply", project)
    build(tmp_path / "two", "apply", other)

    wheel_name = f"{PROJECT}-0.1.0-py3-none-any.whl"
    assert (tmp_path / "one" / wheel_name).read_bytes() == (tmp_path / "two" / wheel_name).read_bytes()


def test_an_edit_is_reported_by_check_and_applied_by_apply(tmp_path: Path, project: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    first = build(wheelhouse, "apply", project)
    before = snapshot(wheelhouse)
    write_project(project, greeting="edited")

    checked = build(wheelhouse, "check", project)

    assert checked["changed"] is True
    assert checked["digests"][PROJECT] != first["digests"][PROJECT]
    assert snapshot(wheelhouse) == before, "check wrote to the wheelhouse"

    applied = build(wheelhouse, "apply", project)

    assert applied["changed"] is True
    assert applied["digests"] == checked["digests"]
    wheel = wheelhouse / applied["projects"][PROJECT]["wheel"]
    assert members_digest(wheel) == applied["digests"][PROJECT]
    assert module_text(wheel) == "GREETING = 'edited'\n"


def test_build_leftovers_in_the_project_do_not_reach_the_wheel(tmp_path: Path, project: Path) -> None:
    stale = project / "build" / "lib" / PROJECT / "deleted.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("GONE = True\n")

    report = build(tmp_path / "wheelhouse", "apply", project)

    with zipfile.ZipFile(tmp_path / "wheelhouse" / report["projects"][PROJECT]["wheel"]) as archive:
        assert f"{PROJECT}/__init__.py" in archive.namelist()
        assert f"{PROJECT}/deleted.py" not in archive.namelist()


def test_an_older_version_of_the_project_is_removed(tmp_path: Path, project: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    build(wheelhouse, "apply", project)
    write_project(project, version="0.2.0")

    report = build(wheelhouse, "apply", project)

    new_name = f"{PROJECT}-0.2.0-py3-none-any.whl"
    assert report["changed"] is True
    assert report["wheels"] == [new_name]
    assert report["projects"][PROJECT]["wheel"] == new_name
    assert sorted(path.name for path in wheelhouse.iterdir()) == [new_name]


def test_a_directory_without_pyproject_is_refused_by_name(tmp_path: Path) -> None:
    not_a_project = tmp_path / "not-a-project"
    not_a_project.mkdir()
    (not_a_project / "setup.cfg").write_text("[metadata]\nname = nothing\n")
    wheelhouse = tmp_path / "wheelhouse"

    proc = run_script(wheelhouse, "apply", not_a_project)

    assert proc.returncode != 0
    assert str(not_a_project) in proc.stderr
    assert "pyproject.toml" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert not any(wheelhouse.glob("*.whl"))


@pytest.mark.parametrize("arguments", [[], ["apply"], ["install", "somewhere"]])
def test_a_bad_command_line_prints_the_usage(tmp_path: Path, arguments: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "wheelhouse"), *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert proc.returncode != 0
    assert "Usage: build_wheelhouse.py WHEELHOUSE apply|check" in proc.stderr
    assert not os.path.exists(tmp_path / "wheelhouse")


def test_a_built_wheel_is_taken_as_it_is(tmp_path: Path, project: Path) -> None:
    """An installed collection ships its projects as wheels: they go into the wheelhouse unchanged."""
    shipped = build(tmp_path / "shipped", "apply", project)
    wheel = tmp_path / "shipped" / shipped["projects"][PROJECT]["wheel"]
    wheelhouse = tmp_path / "wheelhouse"

    checked = build(wheelhouse, "check", wheel)
    assert checked["changed"] is True
    assert not wheelhouse.exists(), "check wrote to the wheelhouse"

    first = build(wheelhouse, "apply", wheel)
    second = build(wheelhouse, "apply", wheel)

    assert first["changed"] is True
    assert first["projects"] == shipped["projects"]
    assert (wheelhouse / wheel.name).read_bytes() == wheel.read_bytes()
    assert second["changed"] is False
    assert second["wheels"] == [wheel.name]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("missing", None, "does not exist"),
        (f"{PROJECT}-0.1.0-py3-none-any.whl", b"not a zip", "is not a wheel"),
    ],
)
def test_a_project_that_is_neither_directory_nor_wheel_is_refused_by_name(
    tmp_path: Path, name: str, content: bytes | None, problem: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    wheelhouse = tmp_path / "wheelhouse"

    proc = run_script(wheelhouse, "apply", path)

    assert proc.returncode != 0
    assert f"{path} {problem}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert not any(wheelhouse.glob("*.whl"))
