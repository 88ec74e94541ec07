# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a Python project's wheel into a wheelhouse on the controller, idempotently.

Usage: build_wheel.py SOURCE WHEELHOUSE apply|check

The project is copied without its build leftovers (a stale build/ would put deleted modules back into the
wheel) and built with `pip wheel --no-deps`. The wheel in WHEELHOUSE is replaced only when the new one has
different contents (wheels carry timestamps, so bytes differ between identical builds); with `check`
nothing is replaced. Prints one JSON object: changed, path, name and digest (a sha256 of the contents,
which tells a host whether its installed runtime is this one).
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


def contents_digest(wheel):
    """A sha256 over the names and bytes of a wheel's members, whatever their timestamps."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode("utf-8") + b"\0")
            digest.update(archive.read(name))
            digest.update(b"\0")
    return digest.hexdigest()


def build(source, out_dir):
    """Build the project at `source` into `out_dir`; return the wheel's path or exit with pip's output."""
    copy = os.path.join(out_dir, "source")
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(*LEFTOVERS))
    wheels = os.path.join(out_dir, "wheels")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q"]
    proc = subprocess.run(
        [*command, "--wheel-dir", wheels, copy], capture_output=True, text=True, check=False
    )
    built = glob.glob(os.path.join(wheels, "*.whl"))
    if proc.returncode != 0 or len(built) != 1:
        sys.exit(
            f"building a wheel of {source} failed (pip exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return built[0]


def project_prefix(wheel_name):
    """`mesh_runtime-` for mesh_runtime-0.1.0-py3-none-any.whl: the name every version of it starts with."""
    return wheel_name.split("-", 1)[0] + "-"


def place(new_wheel, wheelhouse, apply):
    """Put `new_wheel` into the wheelhouse unless an identical one is there; return (changed, path)."""
    name = os.path.basename(new_wheel)
    target = os.path.join(wheelhouse, name)
    if os.path.exists(target) and contents_digest(target) == contents_digest(new_wheel):
        return False, target
    if apply:
        os.makedirs(wheelhouse, exist_ok=True)
        for older in glob.glob(os.path.join(wheelhouse, project_prefix(name) + "*.whl")):
            if older != target:
                os.remove(older)
        staged = target + ".new"
        shutil.copyfile(new_wheel, staged)
        os.replace(staged, target)
    return True, target


def main(argv):
    if len(argv) != 3 or argv[2] not in ("apply", "check"):
        sys.exit(__doc__)
    source, wheelhouse, mode = os.path.abspath(argv[0]), os.path.abspath(argv[1]), argv[2]
    if not os.path.isfile(os.path.join(source, "pyproject.toml")):
        sys.exit(f"{source} is not a Python project (no pyproject.toml)")
    with tempfile.TemporaryDirectory(prefix="meshlab-wheel-") as scratch:
        new_wheel = build(source, scratch)
        digest = contents_digest(new_wheel)
        changed, path = place(new_wheel, wheelhouse, mode == "apply")
    print(json.dumps({"changed": changed, "path": path, "name": os.path.basename(path), "digest": digest}))


if __name__ == "__main__":
    main(sys.argv[1:])
