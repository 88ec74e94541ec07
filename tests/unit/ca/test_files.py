from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mesh_runtime.ca.files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, write_atomically


def test_writes_the_content_with_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "ca-key.pem"

    write_atomically(target, b"secret", PRIVATE_FILE_MODE)

    assert target.read_bytes() == b"secret"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_replaces_an_existing_file_and_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "root-cert.pem"
    target.write_bytes(b"old")
    target.chmod(0o600)

    write_atomically(target, b"new", PUBLIC_FILE_MODE)

    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["root-cert.pem"]


def test_a_write_that_fails_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ca-key.pem"
    target.write_bytes(b"the old key")

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"half a new k", PRIVATE_FILE_MODE)

    assert target.read_bytes() == b"the old key"
    assert [p.name for p in tmp_path.iterdir()] == ["ca-key.pem"]
