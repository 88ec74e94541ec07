"""meshctl's config API client: where meshd is, which token, which root; clear errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mesh_runtime.ca import CertificateAuthority
from mesh_runtime.cli.connection import _address, connect
from mesh_runtime.command.errors import CommandError


def args(**values: object) -> argparse.Namespace:
    return argparse.Namespace(
        **{"control_plane": None, "token": None, "ca_file": None, "data_dir": None, **values}
    )


def test_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESHCTL_CONTROL_PLANE", raising=False)
    assert _address(None) == ("127.0.0.1", 15080)
    assert _address("meshd.lab") == ("meshd.lab", 15080)
    assert _address("meshd.lab:9443") == ("meshd.lab", 9443)
    assert _address("[::1]:9443") == ("::1", 9443)
    assert _address("::1") == ("::1", 15080)
    monkeypatch.setenv("MESHCTL_CONTROL_PLANE", "cp.lab:1234")
    assert _address(None) == ("cp.lab", 1234)
    with pytest.raises(CommandError, match="is not HOST"):
        _address("meshd:http")


def test_token_and_root_come_from_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESHCTL_TOKEN", raising=False)
    with pytest.raises(CommandError, match="no admin token: pass --token"):
        connect(args(data_dir=str(tmp_path)))
    (tmp_path / "admin-token").write_text("secret\n")
    with pytest.raises(CommandError, match="root-cert.pem: no such file"):
        connect(args(data_dir=str(tmp_path)))
    (tmp_path / "root-cert.pem").write_text("not a certificate")
    with pytest.raises(CommandError, match="cannot be read as a PEM root certificate"):
        connect(args(data_dir=str(tmp_path)))
    monkeypatch.setenv("MESHCTL_TOKEN", "from-env")
    with pytest.raises(CommandError, match="cannot be read as a PEM"):
        connect(args(data_dir=str(tmp_path), token="flag"))


def test_nobody_listening(tmp_path: Path) -> None:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    (tmp_path / "root-cert.pem").write_text(ca.trust_bundle())
    client = connect(args(data_dir=str(tmp_path), token="t", control_plane="127.0.0.1:1"))
    with pytest.raises(CommandError, match=r"no control plane \(meshd\) answered at https://127.0.0.1:1"):
        client.request("GET", "/v1/resources")
