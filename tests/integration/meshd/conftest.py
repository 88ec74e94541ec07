"""Fixtures: a fresh meshd process per test, in a temporary data directory, always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.meshd.running import Meshd


@pytest.fixture
def meshd(tmp_path: Path) -> Iterator[Meshd]:
    server = Meshd(tmp_path / "meshd").start()
    try:
        yield server
    finally:
        server.kill()
