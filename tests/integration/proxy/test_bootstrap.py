"""mesh-proxy's bootstrap against a stand-in for meshd's port 15012 (the real meshd is tested on its own):
key made locally, CSR with the bootstrap token, discovery stream with the issued certificate, Hello, Push,
Ack, the config kept on disk; then a restart with meshd gone serves from what was kept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_runtime.xds import protocol

from .conftest import free_port, stop
from .fake_meshd import FakeMeshd, running_fake_meshd, start, wait_for_version


@pytest.fixture
def meshd(tmp_path: Path) -> Iterator[tuple[FakeMeshd, Path]]:
    with running_fake_meshd(tmp_path) as running:
        yield running


def test_bootstrap_discovery_and_restart_without_meshd(tmp_path: Path, meshd: tuple[FakeMeshd, Path]) -> None:
    fake, bundle = meshd
    proxy = start(tmp_path, fake.port, bundle)
    try:
        wait_for_version(proxy, "v1")
        deadline = time.monotonic() + 10
        while len(fake.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop(proxy)
    assert fake.certificate_requests == 1
    assert fake.peer_identities == ["spiffe://cluster.local/ns/default/sa/a"]  # the stream used the new cert
    hello, ack = fake.received
    assert (
        isinstance(hello, protocol.Hello)
        and hello.node.service_account == "a"
        and hello.node.id == "a.default"
    )
    assert ack == protocol.Ack("v1", "n1")
    data = tmp_path / "data"
    assert (data / "key.pem").stat().st_mode & 0o077 == 0
    assert json.loads((data / "config.json").read_text())["version"] == "v1"

    # meshd is gone: the proxy starts from the certificate and the config it kept.
    again = start(tmp_path, free_port(), bundle)
    try:
        dump = wait_for_version(again, "v1")
        assert dump["config"] is not None
    finally:
        stop(again)
    assert fake.certificate_requests == 1
