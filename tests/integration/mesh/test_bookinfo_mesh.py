"""Issue 3's "Done when", on the whole mesh as real processes: meshd, Bookinfo's six workloads each with its
sidecar, the ingress gateway (one lab for the module, see conftest.py).

Waits are bounded polls on what the mesh reports (proxy-status, the proxies' own endpoints); nothing here
asserts how long anything takes. A test that changes the config takes it back before it ends.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from mesh_runtime.ca import CertificateAuthority
from tests.integration.mesh.conftest import ECHO_PORT
from tests.integration.mesh.running import Mesh

PAGES = 60
REVIEW_SERVICES = ("details", "reviews", "ratings", "productpage")
PLAINTEXT_GET = b"GET /details/0 HTTP/1.1\r\nHost: details:9080\r\nConnection: close\r\n\r\n"
STRICT = """\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: default
spec:
  mtls:
    mode: STRICT
"""
INVALID = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings-probe
  namespace: default
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews-probe
  namespace: default
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: SOMETIMES
"""


def spiffe(service_account: str, namespace: str = "default") -> str:
    return f"spiffe://cluster.local/ns/{namespace}/sa/{service_account}"


def uri_sans(der: bytes) -> list[str]:
    certificate = x509.load_der_x509_certificate(der)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return names.get_values_for_type(x509.UniformResourceIdentifier)


def signed_by_root(der_or_pem: bytes, root_pem: bytes) -> bool:
    """The certificate's signature checks against meshd's root's key (the root signs workloads directly)."""
    if der_or_pem.startswith(b"-----"):
        certificate = x509.load_pem_x509_certificate(der_or_pem)
    else:
        certificate = x509.load_der_x509_certificate(der_or_pem)
    root = x509.load_pem_x509_certificate(root_pem)
    try:
        certificate.verify_directly_issued_by(root)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return True


@pytest.fixture
def strict(mesh: Mesh) -> Iterator[None]:
    """PeerAuthentication STRICT for namespace default, synced to its sidecars; removed afterwards."""
    applied = mesh.meshctl("apply", "-f", "-", stdin=STRICT)
    assert applied.code == 0, applied
    mesh.wait_synced(mesh.sidecars())
    try:
        yield
    finally:
        deleted = mesh.meshctl("delete", "peerauthentication", "default", "-n", "default")
        assert deleted.code == 0, deleted
        mesh.wait_synced(mesh.sidecars())


# ---------------------------------------------------------------------------------------------------------


def test_productpage_through_the_gateway_rotates_through_the_three_reviews(mesh: Mesh) -> None:
    seen: dict[str, int] = {}
    for _ in range(PAGES):
        page = mesh.page()
        assert page.ok(), page.body[:2000]
        seen[page.stars] = seen.get(page.stars, 0) + 1
        if len(seen) == 3:
            break
    assert set(seen) == {"none", "black", "red"}, seen


def test_all_v1_with_mutual_tls_destination_rules_shows_reviews_without_stars(
    mesh: Mesh, networking: Path
) -> None:
    files = (networking / "destination-rule-all-mtls.yaml", networking / "virtual-service-all-v1.yaml")
    applied = mesh.apply(*files)
    assert "virtualservice.networking.istio.io/reviews created" in applied.stdout, applied
    assert "destinationrule.networking.istio.io/reviews created" in applied.stdout, applied
    try:
        mesh.wait_synced()  # every proxy routes to these hosts: all get the new config
        stars = []
        for _ in range(PAGES // 2):
            page = mesh.page()
            assert page.ok(), page.body[:2000]
            stars.append(page.stars)
        assert set(stars) == {"none"}, stars
    finally:
        mesh.delete(*files)
        mesh.wait_synced()


def test_permissive_admits_plaintext_which_strict_then_refuses(mesh: Mesh) -> None:
    """The control for the next test: without STRICT the same request gets the app's answer."""
    port = mesh.inbound_port("details-v1.default")
    answer = mesh.plaintext_exchange(port, PLAINTEXT_GET)
    assert answer.startswith(b"HTTP/1.1 200") and b"William Shakespeare" in answer, answer


def test_strict_refuses_plaintext_to_a_workload_inbound_port(mesh: Mesh, strict: None) -> None:
    port = mesh.inbound_port("details-v1.default")
    answer = mesh.plaintext_exchange(port, PLAINTEXT_GET)
    assert b"HTTP/1.1" not in answer and b"Shakespeare" not in answer, answer
    # The page still works: the hops between sidecars are mutual TLS, which STRICT admits.
    assert mesh.page().ok()


def test_sidecars_serve_spiffe_certificates_signed_by_meshds_root(
    mesh: Mesh, strict: None, tmp_path: Path
) -> None:
    root = mesh.lab.root_cert.read_bytes()
    client = tmp_path / "sleep"
    mesh.workload_certificate("default", "sleep", client)
    with_cert = mesh.mesh_tls_context(client)
    for proxy_id, workload in mesh.lab.workloads.items():
        service_account = workload.spec.service_account
        # The handshake itself verifies the chain against meshd's root (and nothing else).
        der, answer = mesh.tls_exchange(workload.inbound_port, with_cert, PLAINTEXT_GET)
        assert uri_sans(der) == [spiffe(service_account)], proxy_id
        assert signed_by_root(der, root), proxy_id
        if proxy_id == "details-v1.default":
            assert answer.startswith(b"HTTP/1.1 200") and b"William Shakespeare" in answer, answer
    # Without a client certificate the TLS session gets nothing from the app under STRICT.
    _, answer = mesh.tls_exchange(
        mesh.inbound_port("details-v1.default"), mesh.mesh_tls_context(), PLAINTEXT_GET
    )
    assert b"Shakespeare" not in answer, answer
    # A client trusting another root refuses the sidecar's certificate.
    other = CertificateAuthority.load_or_create(tmp_path / "other-ca")
    stranger = ssl.create_default_context(cadata=other.trust_bundle())
    stranger.check_hostname = False
    with pytest.raises(ssl.SSLCertVerificationError):
        mesh.tls_exchange(mesh.inbound_port("details-v1.default"), stranger)


def test_the_sidecar_to_sidecar_hop_presents_the_callers_spiffe_certificate(mesh: Mesh, strict: None) -> None:
    """productpage's sidecar calls echo's: echo's app reads, in x-forwarded-client-cert, the certificate that
    its sidecar received on the wire — productpage's, issued by meshd."""
    status, body = mesh.outbound_get("productpage-v1.default", f"http://echo:{ECHO_PORT}/hello")
    assert status == 200, body
    received = json.loads(body)
    assert received["path"] == "/hello"
    xfcc = received["headers"]["x-forwarded-client-cert"]
    fields = dict(re.findall(r'(\w+)=("[^"]*"|[^;]*)', xfcc))
    assert fields["By"] == spiffe("echo"), xfcc
    assert fields["URI"] == spiffe("bookinfo-productpage"), xfcc
    # The hash of the certificate seen on the wire is that of productpage's own, and meshd's root signed it.
    chain = (mesh.lab.data_dir / "proxies" / "productpage-v1.default" / "cert-chain.pem").read_bytes()
    leaf = x509.load_pem_x509_certificate(chain)
    assert fields["Hash"] == hashlib.sha256(leaf.public_bytes(Encoding.DER)).hexdigest(), xfcc
    assert signed_by_root(chain, mesh.lab.root_cert.read_bytes())


def test_requests_keep_flowing_without_meshd_and_a_restart_resyncs(mesh: Mesh, tmp_path: Path) -> None:
    lab = mesh.lab
    root = lab.root_cert.read_bytes()
    config_before = {
        kind: mesh.meshctl("get", kind, "-A", "-o", "json").stdout for kind in ("vs", "gw", "svc")
    }
    assert '"bookinfo-gateway"' in config_before["gw"]
    meshd = lab.meshd
    assert meshd is not None

    lab.stop_meshd(kill=True)
    assert meshd.returncode == -9
    assert mesh.meshctl("proxy-status").code != 0  # nobody answers on the config API
    for _ in range(10):
        page = mesh.page()
        assert page.ok(), page.body[:2000]

    lab.start_meshd()
    lab.wait_synced(timeout=60)  # every proxy reconnected with its certificate and acknowledged a push
    lab.wait_converged(timeout=60)
    status = mesh.meshctl("proxy-status")
    assert status.code == 0, status
    rows = [line.split() for line in status.stdout.splitlines()[1:] if line.strip()]
    assert sorted(r[0] for r in rows) == sorted(lab.proxy_ids()), status.stdout
    for row in rows:
        assert row[2:6] == ["SYNCED"] * 4, status.stdout
    # Config and CA came back from the data directory: same documents, same root, new certs chain to it.
    config_after = {kind: mesh.meshctl("get", kind, "-A", "-o", "json").stdout for kind in config_before}
    for kind, listed in config_before.items():
        assert json.loads(config_after[kind]) == json.loads(listed), "".join(
            difflib.unified_diff(listed.splitlines(True), config_after[kind].splitlines(True))
        )
    assert lab.root_cert.read_bytes() == root
    mesh.workload_certificate("default", "sleep", tmp_path / "after-restart")
    assert signed_by_root((tmp_path / "after-restart" / "cert-chain.pem").read_bytes(), root)
    for _ in range(5):
        assert mesh.page().ok()


def test_meshctl_version_reports_client_control_plane_and_data_plane(mesh: Mesh) -> None:
    result = mesh.meshctl("version", "--short")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    proxies = len(mesh.lab.proxy_ids())
    assert re.fullmatch(r"client version: \S+", lines[0]), lines
    assert re.fullmatch(r"control plane version: \S+", lines[1]), lines
    assert re.fullmatch(rf"data plane version: \S+ \({proxies} proxies\)", lines[2]), lines


def test_an_invalid_apply_is_refused_with_the_field_path_and_stores_nothing(mesh: Mesh) -> None:
    everything_before = mesh.lab.request("GET", "/v1/resources")
    listed_before = [mesh.meshctl("get", kind, "-A", "-o", "yaml").stdout for kind in ("vs", "dr")]

    result = mesh.meshctl("apply", "-f", "-", stdin=INVALID)

    assert result.code != 0, result
    assert (
        "DestinationRule default/reviews-probe: spec.trafficPolicy.loadBalancer.simple: must be one of"
        in result.stderr
    ), result
    assert "nothing was applied" in result.stderr, result
    assert [mesh.meshctl("get", kind, "-A", "-o", "yaml").stdout for kind in ("vs", "dr")] == listed_before
    assert mesh.lab.request("GET", "/v1/resources") == everything_before
    missing = mesh.meshctl("get", "vs", "ratings-probe")
    assert missing.code != 0, missing  # the valid document of the same apply was not stored either
