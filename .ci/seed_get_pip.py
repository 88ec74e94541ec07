#!/usr/bin/env python3
"""Put .ci/get_pip_standin.py where `ansible-test --venv` looks for its pip bootstrap script.

Run with the Python that runs ansible-test (.venv/bin/python): it asks ansible-test which pip version it
bootstraps, and writes ~/.ansible/test/cache/get_pip_<version>.py unless a real script is already there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

MARKER = "# meshlab: ansible-test get-pip stand-in"


def wanted_pip_version() -> str:
    from ansible_test._internal.python_requirements import get_venv_packages

    python = SimpleNamespace(version=f"{sys.version_info.major}.{sys.version_info.minor}")
    return str(get_venv_packages(python)["pip"])  # a stand-in with the one attribute it reads


def main() -> None:
    standin = (Path(__file__).parent / "get_pip_standin.py").read_text()
    version = wanted_pip_version()
    target = Path(os.path.expanduser(f"~/.ansible/test/cache/get_pip_{version.replace('.', '_')}.py"))
    if target.exists() and MARKER not in target.read_text(errors="replace"):
        print(f"{target}: a real get-pip script is there; leaving it")
        return
    if target.exists() and target.read_text() == standin:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(standin)
    print(f"{target}: wrote the get-pip stand-in for pip {version}")


if __name__ == "__main__":
    main()
