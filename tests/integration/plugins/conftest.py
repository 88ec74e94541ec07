"""Fixtures for the integration tests: the real meshctl, as the modules' meshctl_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.plugins.ansible_run import beside_python


@pytest.fixture(scope="session")
def meshctl_path() -> Path:
    """The real meshctl, as one executable path (the modules' meshctl_path)."""
    path = beside_python("meshctl")
    if path is None:
        pytest.fail("meshctl not found beside this Python nor on PATH: run `make setup`")
    return path
