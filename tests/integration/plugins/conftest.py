"""Fixtures for the integration tests: the real meshctl, as the modules' meshctl_path, and a real meshd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.meshd.running import Meshd
from tests.integration.plugins.ansible_run import beside_python


@pytest.fixture(scope="session")
def meshctl_path() -> Path:
    """The real meshctl, as one executable path (the modules' meshctl_path)."""
    path = beside_python("meshctl")
    if path is None:
        pytest.fail("meshctl not found beside this Python nor on PATH: run `make setup`")
    return path


@pytest.fixture(scope="module")
def meshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Meshd]:
    """A real meshd (serve on free loopback ports, in a fresh data directory) for one test module."""
    server = Meshd(tmp_path_factory.mktemp("meshd") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def config_api(meshctl_path: Path, meshd: Meshd) -> dict[str, str]:
    """The extra vars every config API playbook takes: meshctl, control_plane and data_dir."""
    return {"meshctl": str(meshctl_path), "control_plane": meshd.api, "data_dir": str(meshd.data_dir)}
