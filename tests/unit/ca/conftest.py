from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mesh_runtime.ca.authority import CertificateAuthority
from mesh_runtime.ca.metrics import CAMetrics

from .pki import TestCA, make_ca, write_cacerts


@pytest.fixture
def metrics() -> CAMetrics:
    return CAMetrics()


@pytest.fixture
def authority(tmp_path: Path, metrics: CAMetrics) -> CertificateAuthority:
    """A self-signed CA, created in a fresh directory."""
    return CertificateAuthority.load_or_create(tmp_path / "ca", metrics=metrics)


@pytest.fixture
def external_root() -> TestCA:
    return make_ca("External Root CA", lifetime=timedelta(days=3650))


@pytest.fixture
def intermediate(external_root: TestCA) -> TestCA:
    return make_ca("meshlab intermediate CA", external_root, path_length=0)


@pytest.fixture
def cacerts(tmp_path: Path, external_root: TestCA, intermediate: TestCA) -> Path:
    """A valid plugged-in CA: an intermediate signed by an external root, in Istio's cacerts layout."""
    return write_cacerts(tmp_path / "cacerts", intermediate, [intermediate, external_root], [external_root])
