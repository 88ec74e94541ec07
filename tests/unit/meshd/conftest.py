"""A MeshState over a real store in a temporary directory, for handler and stream tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_runtime.discovery.snapshot import MeshSettings
from mesh_runtime.discovery.store import ConfigStore
from mesh_runtime.meshd.state import MeshState


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


@pytest.fixture
def state(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> Iterator[MeshState]:
    mesh = MeshState(ConfigStore(tmp_path / "store.db"), MeshSettings(), grace_period=0.01)
    try:
        yield mesh
    finally:
        loop.run_until_complete(mesh.close())
