"""The data directory: created once, the same on every later start; plugged-in CAs; trust domains."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from mesh_runtime.meshd.datadir import DataDirError, initialize, read_trust_domain
from mesh_runtime.meshd.serving import serving_names
from tests.unit.ca.pki import make_ca, write_cacerts

NAMES = ["localhost", "127.0.0.1", "meshd.example"]


def snapshot_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_initialize_creates_everything_once(tmp_path: Path) -> None:
    root = tmp_path / "meshd"
    first = initialize(root, names=NAMES)
    files = snapshot_files(root)
    assert set(files) >= {
        "mesh.json",
        "root-cert.pem",
        "admin-token",
        "ca/ca-cert.pem",
        "ca/ca-key.pem",
        "serving/cert.pem",
        "serving/key.pem",
    }
    assert stat.S_IMODE((root / "admin-token").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "serving" / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "root-cert.pem").stat().st_mode) == 0o644
    assert first.trust_domain == "cluster.local" and len(first.admin_token) > 30
    again = initialize(root, names=NAMES)
    assert snapshot_files(root) == files and again.admin_token == first.admin_token
    assert read_trust_domain(root) == "cluster.local"


def test_the_serving_certificate_verifies_with_the_root_and_follows_the_names(tmp_path: Path) -> None:
    root = tmp_path / "meshd"
    init = initialize(root, names=NAMES)
    context = ssl.create_default_context(cafile=str(init.data_dir.root_cert))
    context.load_verify_locations(cadata=init.ca.trust_bundle())
    leaf = x509.load_pem_x509_certificates(init.serving_cert.read_bytes())[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "meshd.example"} <= set(sans.get_values_for_type(x509.DNSName))
    before = init.serving_cert.read_bytes()
    assert initialize(root, names=NAMES[:2]).serving_cert.read_bytes() == before  # fewer names: kept
    assert initialize(root, names=[*NAMES, "other.example"]).serving_cert.read_bytes() != before
    assert "localhost" in serving_names(["x.example"], "0.0.0.0") and "0.0.0.0" not in serving_names()


def test_the_trust_domain_is_fixed_at_the_first_start(tmp_path: Path) -> None:
    root = tmp_path / "meshd"
    assert initialize(root, trust_domain="example.org", names=NAMES).trust_domain == "example.org"
    assert initialize(root, names=NAMES).trust_domain == "example.org"
    with pytest.raises(DataDirError, match="belongs to trust domain 'example.org', not 'cluster.local'"):
        initialize(root, trust_domain="cluster.local", names=NAMES)
    with pytest.raises(DataDirError, match="--trust-domain"):
        initialize(tmp_path / "other", trust_domain="Not Valid!", names=NAMES)
    (root / "mesh.json").write_text("{")
    with pytest.raises(DataDirError, match="mesh.json: unreadable"):
        initialize(root, names=NAMES)


def test_a_plugged_in_ca(tmp_path: Path) -> None:
    external_root = make_ca("External Root")
    intermediate = make_ca("Mesh Intermediate", external_root)
    cacerts = write_cacerts(
        tmp_path / "cacerts", intermediate, [intermediate, external_root], [external_root]
    )
    init = initialize(tmp_path / "meshd", ca_dir=cacerts, names=NAMES)
    assert init.ca.plugged_in
    assert init.data_dir.root_cert.read_bytes() == external_root.cert_pem()
    chain = x509.load_pem_x509_certificates(init.serving_cert.read_bytes())
    assert [c.issuer for c in chain] == [intermediate.cert.subject, external_root.cert.subject]
    assert not (tmp_path / "meshd" / "ca").exists()


def test_a_broken_ca_is_named(tmp_path: Path) -> None:
    cacerts = tmp_path / "cacerts"
    cacerts.mkdir()
    (cacerts / "root-cert.pem").write_text("nothing")
    with pytest.raises(DataDirError, match="cacerts/ca-cert.pem: missing"):
        initialize(tmp_path / "meshd", ca_dir=cacerts, names=NAMES)
