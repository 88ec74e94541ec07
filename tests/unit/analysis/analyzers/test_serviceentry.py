from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import MeshctlRunner

ADDRESSES = """\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: database
  namespace: shop
spec:
  hosts: [db.example.com]
  ports:
  - name: postgres
    number: 5432
  - name: ssh
    number: 22
    protocol: tcp
  - name: web
    number: 80
    protocol: HTTP
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: with-address
  namespace: shop
spec:
  hosts: [db2.example.com]
  addresses: [10.1.2.3]
  ports:
  - name: postgres
    number: 5432
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: allocated
  namespace: shop
spec:
  hosts: [db3.example.com]
  ports:
  - name: postgres
    number: 5432
status:
  addresses:
  - host: db3.example.com
    value: 240.240.0.1
"""

CONFLICTS = """\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api-http
  namespace: shop
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  ports:
  - {name: http, number: 8080, protocol: HTTP}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api-tls
  namespace: infra
spec:
  hosts: [api.example.com]
  ports:
  - {name: tls, number: 8080, protocol: TLS}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api-private
  namespace: infra
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  ports:
  - {name: grpc, number: 9090, protocol: GRPC}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api-elsewhere
  namespace: other
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  ports:
  - {name: http, number: 9090, protocol: HTTP}
"""

REQUIRED = "ServiceEntry addresses are required for this protocol."


def analyze(
    meshctl: MeshctlRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    analyzer: str,
    text: str,
    mesh_config: str | None = None,
) -> list[str]:
    monkeypatch.chdir(tmp_path)
    Path("mesh.yaml").write_text(textwrap.dedent(text))
    flags = ["--use-kube=false", "-A", "--analyzer", analyzer]
    if mesh_config is not None:
        Path("meshconfig.yaml").write_text(textwrap.dedent(mesh_config))
        flags += ["--meshConfigFile", "meshconfig.yaml"]
    return [line for line in meshctl("analyze", *flags, "mesh.yaml").lines if line]


def test_tcp_ports_need_addresses_reported_at_the_port_name(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sorted as istioctl sorts them: by the whole line, so :11 comes before :9.
    assert analyze(meshctl, tmp_path, monkeypatch, "serviceentry.Analyzer", ADDRESSES) == [
        f"Warning [IST0134] (ServiceEntry shop/database mesh.yaml:11) {REQUIRED}",
        f"Warning [IST0134] (ServiceEntry shop/database mesh.yaml:9) {REQUIRED}",
    ]


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"ISTIO_META_DNS_CAPTURE": "true", "ISTIO_META_DNS_AUTO_ALLOCATE": "true"}, 0),
        ({"ISTIO_META_DNS_CAPTURE": "true", "PILOT_ENABLE_IP_AUTOALLOCATE": "true"}, 0),
        ({"ISTIO_META_DNS_CAPTURE": "true"}, 2),
        ({"ISTIO_META_DNS_AUTO_ALLOCATE": "true"}, 2),
    ],
)
def test_dns_capture_with_auto_allocation_makes_addresses_unnecessary(
    meshctl: MeshctlRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    metadata: dict[str, str],
    expected: int,
) -> None:
    entries = "".join(f"    {key}: {value!r}\n" for key, value in metadata.items())
    mesh_config = "defaultConfig:\n  proxyMetadata:\n" + entries.replace("'", '"')
    lines = analyze(meshctl, tmp_path, monkeypatch, "serviceentry.Analyzer", ADDRESSES, mesh_config)
    assert len(lines) == expected


def test_conflicting_protocols_in_a_shared_scope(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    detail = (
        'Multiple ServiceEntries (infra/api-tls, shop/api-http) define the same host "api.example.com" '
        "and port 8080 with conflicting protocols (HTTP, TLS)."
    )
    lines = analyze(
        meshctl, tmp_path, monkeypatch, "serviceentry.ConflictingServiceEntryProtocolAnalyzer", CONFLICTS
    )
    # api-private and api-elsewhere share a port but are each visible only in their own namespace.
    assert lines == [
        f"Warning [IST0177] (ServiceEntry shop/api-http mesh.yaml:4) {detail}",
        f"Warning [IST0177] (ServiceEntry infra/api-tls mesh.yaml:15) {detail}",
    ]
