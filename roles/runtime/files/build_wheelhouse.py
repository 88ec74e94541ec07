# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a wheelhouse on the controller: wheels of meshlab's Python projects and of everything they need.

Usage: build_wheelhouse.py WHEELHOUSE apply|check PROJECT... [-- REQUIREMENT...]

A PROJECT is a project directory or a wheel already built from one (an installed collection ships its
projects as wheels). Each project directory is copied without its build leftovers (a stale build/ would put
deleted modules back into the wheel) and built with `pip wheel --no-deps`, with SOURCE_DATE_EPOCH set so
that its bytes depend on its sources only; a wheel is taken as it is. A project's wheel in WHEELHOUSE is
replaced only when the new one
has different contents (wheels carry timestamps, so bytes differ between identical builds). Then the
dependencies of the projects and the extra REQUIREMENTs are resolved against the wheelhouse alone; only when
something is missing is the package index asked, and only the missing wheels are added. With `check` nothing
is written. Prints one JSON object: changed, wheelhouse, wheels (every file name, sorted) and projects
(name -> {wheel, digest}: a sha256 of the wheel's contents, which tells a host whether its install is current)
digests (name -> digest) and python (the X.Y the binary wheels are for).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

LEFTOVERS = (
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".venv",
)
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check", "-q")
# The wheel's member timestamps pinned (1980-01-01, the oldest a zip can hold): the same sources give the same
# bytes in any checkout, so a host's copy does not change when another controller builds it.
REPRODUCIBLE = dict(os.environ, SOURCE_DATE_EPOCH="315532800")


def contents_digest(wheel):
    """A sha256 over the names and bytes of a wheel's members, whatever their timestamps."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode("utf-8") + b"\0")
            digest.update(archive.read(name))
            digest.update(b"\0")
    return digest.hexdigest()


def run_pip(arguments, what, env=None):
    proc = subprocess.run([*PIP, *arguments], capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        sys.exit(f"{what} failed (pip exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")


def build_project(source, scratch):
    """Build the project at `source` (or take the wheel `source` is); return the new wheel's path."""
    if source.endswith(".whl") and os.path.isfile(source):
        if not zipfile.is_zipfile(source):
            sys.exit(f"{source} is not a wheel (not a zip archive): build it again")
        out = os.path.join(scratch, "projects", os.path.basename(source)[: -len(".whl")])
        os.makedirs(out)
        wheel = os.path.join(out, os.path.basename(source))
        shutil.copyfile(source, wheel)
        return wheel
    if not os.path.exists(source):
        sys.exit(f"{source} does not exist: a project is a directory with a pyproject.toml, or a wheel")
    if not os.path.isfile(os.path.join(source, "pyproject.toml")):
        sys.exit(f"{source} is not a Python project (no pyproject.toml) nor a wheel")
    copy = os.path.join(scratch, "source", os.path.basename(source.rstrip("/")))
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(*LEFTOVERS))
    out = os.path.join(scratch, "projects", os.path.basename(copy))
    run_pip(["wheel", "--no-deps", "--wheel-dir", out, copy], f"building a wheel of {source}", REPRODUCIBLE)
    built = glob.glob(os.path.join(out, "*.whl"))
    if len(built) != 1:
        sys.exit(f"building a wheel of {source} gave {len(built)} wheels, expected one")
    return built[0]


def distribution_prefix(wheel_name):
    """`mesh_runtime-` for mesh_runtime-0.1.0-py3-none-any.whl: the name every version of it starts with."""
    return wheel_name.split("-", 1)[0] + "-"


def place_project(new_wheel, wheelhouse, apply):
    """Put a project's wheel into the wheelhouse unless an identical one is there; return changed."""
    name = os.path.basename(new_wheel)
    target = os.path.join(wheelhouse, name)
    if os.path.exists(target) and contents_digest(target) == contents_digest(new_wheel):
        return False
    if apply:
        for older in glob.glob(os.path.join(wheelhouse, distribution_prefix(name) + "*.whl")):
            if older != target:
                os.remove(older)
        staged = target + ".new"
        shutil.copyfile(new_wheel, staged)
        os.replace(staged, target)
    return True


def missing_dependencies(wheelhouse, targets, scratch):
    """Resolve `targets` against the wheelhouse alone; True when something is not there yet."""
    probe = os.path.join(scratch, "probe")
    proc = subprocess.run(
        [*PIP, "wheel", "--no-index", "--find-links", wheelhouse, "--wheel-dir", probe, *targets],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode != 0


def fetch_dependencies(wheelhouse, targets, scratch):
    """Fetch (or build) every wheel `targets` need from the index; copy the new ones in; return changed."""
    fetched = os.path.join(scratch, "fetched")
    run_pip(
        ["wheel", "--find-links", wheelhouse, "--wheel-dir", fetched, *targets],
        "fetching the runtime's dependencies",
    )
    changed = False
    for wheel in glob.glob(os.path.join(fetched, "*.whl")):
        target = os.path.join(wheelhouse, os.path.basename(wheel))
        if not os.path.exists(target):
            shutil.copyfile(wheel, target + ".new")
            os.replace(target + ".new", target)
            changed = True
    return changed


def parse_arguments(argv):
    if len(argv) < 3 or argv[1] not in ("apply", "check"):
        sys.exit(__doc__)
    wheelhouse, mode, rest = os.path.abspath(argv[0]), argv[1], argv[2:]
    split = rest.index("--") if "--" in rest else len(rest)
    projects = [os.path.abspath(p) for p in rest[:split]]
    requirements = rest[split + 1 :]
    if not projects:
        sys.exit("build_wheelhouse.py: name at least one project (a directory or a wheel)")
    return wheelhouse, mode == "apply", projects, requirements


def main(argv):
    wheelhouse, apply, projects, requirements = parse_arguments(argv)
    if apply:
        os.makedirs(wheelhouse, exist_ok=True)
    changed = False
    built = {}
    with tempfile.TemporaryDirectory(prefix="meshlab-wheelhouse-") as scratch:
        for project in projects:
            wheel = build_project(project, scratch)
            changed |= place_project(wheel, wheelhouse, apply)
            name = os.path.basename(wheel)
            built[name.split("-", 1)[0]] = {"wheel": name, "digest": contents_digest(wheel)}
        new_wheels = sorted(glob.glob(os.path.join(scratch, "projects", "*", "*.whl")))
        targets = [*new_wheels, *requirements]
        if missing_dependencies(wheelhouse, targets, scratch):
            changed = True
            if apply:
                fetch_dependencies(wheelhouse, targets, scratch)
    wheels = sorted(os.path.basename(w) for w in glob.glob(os.path.join(wheelhouse, "*.whl")))
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    print(
        json.dumps(
            {
                "changed": changed,
                "wheelhouse": wheelhouse,
                "wheels": wheels,
                "projects": built,
                "digests": {name: project["digest"] for name, project in built.items()},
                "python": python,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
