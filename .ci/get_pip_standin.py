"""A stand-in for the get-pip script that `ansible-test --venv` downloads to bootstrap pip in its virtualenvs.

ansible-test fetches that script from a host this lab cannot reach, and uses a copy in
~/.ansible/test/cache/get_pip_<version>.py when one is there; .ci/seed_get_pip.py puts this file there.
ansible-test runs it as `python get_pip_X.py [pip options] pip==X --no-setuptools --no-wheel`: this bootstraps
pip with ensurepip, then installs what was asked with that pip. Both run as subprocesses: ensurepip run
in-process ignores pip's configuration, and with it this machine's CA bundle.
"""

from __future__ import annotations

import subprocess
import sys

# Options of get-pip itself, which `pip install` does not know.
GET_PIP_OPTIONS = {"--no-setuptools", "--no-wheel"}

# meshlab: ansible-test get-pip stand-in


def main() -> None:
    pip_arguments = [arg for arg in sys.argv[1:] if arg not in GET_PIP_OPTIONS]
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "pip", "install", *pip_arguments], check=True)


if __name__ == "__main__":
    main()
