from __future__ import annotations

import os
import random
import socket
import ssl
import stat
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from mesh_runtime.ca.authority import CertificateAuthority
from mesh_runtime.ca.client import (
    VerificationError,
    WorkloadCertificate,
    build_csr,
    generate_key,
    renewal_delay,
    renewal_time,
    verify_cert_chain,
    write_credentials,
)
from mesh_runtime.ca.identity import Identity

from .pki import TestCA, make_ca

PRODUCTPAGE = Identity.for_service_account("default", "bookinfo-productpage")
REVIEWS = Identity.for_service_account("default", "bookinfo-reviews")


def issue(
    authority: CertificateAuthority, identity: Identity, ttl: timedelta | None = None
) -> tuple[ec.EllipticCurvePrivateKey, WorkloadCertificate]:
    """The whole workload flow: key on the host, CSR, signed by the CA, chain checked."""
    key = generate_key()
    chain = authority.sign_csr(build_csr(key, identity), [identity.uri], ttl)
    return key, verify_cert_chain(chain.cert_chain, authority.trust_bundle(), identity, key=key)


# -- key and CSR ---------------------------------------------------------------------------------------


def test_the_key_is_p256_and_the_csr_asks_for_the_identity() -> None:
    key = generate_key()

    csr = x509.load_pem_x509_csr(build_csr(key, PRODUCTPAGE))

    assert key.curve.name == "secp256r1"
    assert csr.is_signature_valid
    assert csr.public_key() == key.public_key()
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [PRODUCTPAGE.uri]


def test_each_key_is_new() -> None:
    assert generate_key().public_key() != generate_key().public_key()


# -- checking what the CA returned ---------------------------------------------------------------------


def test_a_good_chain_is_accepted(authority: CertificateAuthority) -> None:
    key, certificate = issue(authority, PRODUCTPAGE)

    assert certificate.identity == PRODUCTPAGE
    assert certificate.leaf.public_key() == key.public_key()
    assert certificate.root == x509.load_pem_x509_certificate(authority.trust_bundle().encode())


def test_a_certificate_for_another_identity_is_refused(authority: CertificateAuthority) -> None:
    """The CA puts the caller's identity in the leaf, whatever the CSR asked for; the workload notices."""
    key = generate_key()
    chain = authority.sign_csr(build_csr(key, PRODUCTPAGE), [REVIEWS.uri])

    with pytest.raises(VerificationError) as raised:
        verify_cert_chain(chain.cert_chain, authority.trust_bundle(), PRODUCTPAGE, key=key)

    assert str(raised.value) == f"the certificate is not for {PRODUCTPAGE}: its URI SANs are {REVIEWS}"


def test_a_certificate_for_another_key_is_refused(authority: CertificateAuthority) -> None:
    chain = authority.sign_csr(build_csr(generate_key(), PRODUCTPAGE), [PRODUCTPAGE.uri])

    with pytest.raises(VerificationError, match="not for this workload's key"):
        verify_cert_chain(chain.cert_chain, authority.trust_bundle(), PRODUCTPAGE, key=generate_key())


def test_a_chain_from_an_untrusted_ca_is_refused(authority: CertificateAuthority, tmp_path: Path) -> None:
    impostor = CertificateAuthority.load_or_create(tmp_path / "impostor")
    chain = impostor.sign_csr(build_csr(generate_key(), PRODUCTPAGE), [PRODUCTPAGE.uri])

    with pytest.raises(VerificationError, match="does not lead to a root in the trust bundle"):
        verify_cert_chain(chain.cert_chain, authority.trust_bundle(), PRODUCTPAGE)


def test_an_expired_chain_is_refused(authority: CertificateAuthority) -> None:
    _, certificate = issue(authority, PRODUCTPAGE, timedelta(hours=1))
    chain = [certificate.cert_chain_pem()]

    with pytest.raises(VerificationError, match="expired on"):
        verify_cert_chain(
            chain, authority.trust_bundle(), PRODUCTPAGE, now=certificate.not_after + timedelta(seconds=1)
        )


def test_a_plugged_in_chain_is_checked_through_the_intermediate(
    cacerts: Path, external_root: TestCA, intermediate: TestCA
) -> None:
    authority = CertificateAuthority.load_plugged_in(cacerts)
    _, certificate = issue(authority, REVIEWS)

    assert [c.subject for c in certificate.chain[1:]] == [
        intermediate.cert.subject,
        external_root.cert.subject,
    ]
    assert certificate.root == external_root.cert


def test_a_chain_missing_its_intermediate_is_refused(cacerts: Path) -> None:
    authority = CertificateAuthority.load_plugged_in(cacerts)
    chain = authority.sign_csr(build_csr(generate_key(), REVIEWS), [REVIEWS.uri]).cert_chain

    with pytest.raises(VerificationError, match="no intermediate or root certificate issued spiffe://"):
        verify_cert_chain([chain[0], chain[2]], authority.trust_bundle(), REVIEWS)


def test_a_ca_certificate_is_not_a_workload_certificate(tmp_path: Path) -> None:
    root = make_ca("root")
    issuing = make_ca("issuing", root)

    with pytest.raises(VerificationError, match="is a CA, not a workload certificate"):
        verify_cert_chain([issuing.cert_pem().decode()], root.cert_pem(), PRODUCTPAGE)


@pytest.mark.parametrize(
    ("chain", "bundle", "message"),
    [
        ([], "", "the CA returned an empty certificate chain"),
        (["garbage"], "", "cert_chain[0] is not a PEM certificate"),
    ],
)
def test_unreadable_answers_are_refused(chain: list[str], bundle: str, message: str) -> None:
    with pytest.raises(VerificationError) as raised:
        verify_cert_chain(chain, bundle, PRODUCTPAGE)

    assert str(raised.value).startswith(message)


def test_an_unreadable_trust_bundle_is_refused(authority: CertificateAuthority) -> None:
    chain = authority.sign_csr(build_csr(generate_key(), PRODUCTPAGE), [PRODUCTPAGE.uri]).cert_chain

    with pytest.raises(VerificationError, match="the trust bundle is not a PEM certificate bundle"):
        verify_cert_chain(chain, "not pem", PRODUCTPAGE)


# -- renewal -------------------------------------------------------------------------------------------


def test_renewal_is_at_half_life_without_jitter(authority: CertificateAuthority) -> None:
    _, certificate = issue(authority, PRODUCTPAGE)
    leaf = certificate.leaf

    due = renewal_time(leaf, jitter=0)

    assert due == leaf.not_valid_before_utc + (leaf.not_valid_after_utc - leaf.not_valid_before_utc) / 2


def test_renewal_jitter_stays_within_one_percent_of_the_lifetime(authority: CertificateAuthority) -> None:
    _, certificate = issue(authority, PRODUCTPAGE)
    leaf = certificate.leaf
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    half_life = leaf.not_valid_before_utc + lifetime / 2
    rng = random.Random(1234)

    offsets = [renewal_time(leaf, rng=rng) - half_life for _ in range(400)]

    assert all(abs(offset) <= lifetime * 0.01 for offset in offsets)
    assert any(offset > lifetime * 0.005 for offset in offsets)
    assert any(offset < -lifetime * 0.005 for offset in offsets)


def test_renewal_delay_counts_from_now_and_never_goes_negative(authority: CertificateAuthority) -> None:
    _, certificate = issue(authority, PRODUCTPAGE, timedelta(hours=2))
    leaf = certificate.leaf

    at_start = renewal_delay(leaf, now=leaf.not_valid_before_utc, jitter=0)
    late = renewal_delay(leaf, now=leaf.not_valid_after_utc, jitter=0)

    assert at_start == timedelta(hours=1, minutes=1)
    assert late == timedelta(0)


def test_the_grace_ratio_is_clamped_to_the_lifetime(authority: CertificateAuthority) -> None:
    _, certificate = issue(authority, PRODUCTPAGE)
    leaf = certificate.leaf

    assert renewal_time(leaf, grace_ratio=1.5, jitter=0) == leaf.not_valid_before_utc
    assert renewal_time(leaf, grace_ratio=-1, jitter=0) == leaf.not_valid_after_utc


# -- on disk and on the wire ---------------------------------------------------------------------------


def test_credentials_are_written_with_the_key_owner_only(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    key, certificate = issue(authority, PRODUCTPAGE)
    directory = tmp_path / "certs"

    write_credentials(directory, key, certificate, authority.trust_bundle())

    assert stat.S_IMODE(os.stat(directory / "key.pem").st_mode) == 0o600
    assert (directory / "root-cert.pem").read_text() == authority.trust_bundle()
    chain = x509.load_pem_x509_certificates((directory / "cert-chain.pem").read_bytes())
    assert chain[0] == certificate.leaf and chain[-1] == certificate.root
    assert sorted(p.name for p in directory.iterdir()) == ["cert-chain.pem", "key.pem", "root-cert.pem"]


@dataclass
class HandshakeResult:
    server_peer: dict[str, Any] | None = None
    client_peer: dict[str, Any] | None = None
    server_error: BaseException | None = None
    client_error: BaseException | None = None
    received: bytes = b""
    errors: list[BaseException] = field(default_factory=list)


def mtls_context(server_side: bool, credentials: Path, trust_bundle: Path) -> ssl.SSLContext:
    """What a sidecar does: present its cert, require the peer's, trust only the mesh's root."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(credentials / "cert-chain.pem", credentials / "key.pem")
    context.load_verify_locations(cafile=trust_bundle)
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    if not server_side:
        context.check_hostname = False  # the peer is named by its SPIFFE URI SAN, checked below
    return context


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> HandshakeResult:
    result = HandshakeResult()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def serve() -> None:
            try:
                connection, _ = listener.accept()
                connection.settimeout(10)
                with server.wrap_socket(connection, server_side=True) as tls:
                    result.server_peer = tls.getpeercert()
                    tls.sendall(b"hello from the server")
            except (OSError, ssl.SSLError) as error:
                result.server_error = error

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with (
                socket.create_connection(listener.getsockname(), timeout=10) as raw,
                client.wrap_socket(raw) as tls,
            ):
                result.client_peer = tls.getpeercert()
                result.received = tls.recv(64)
        except (OSError, ssl.SSLError) as error:
            result.client_error = error
        finally:
            thread.join(timeout=20)
    return result


def credentials_for(authority: CertificateAuthority, identity: Identity, directory: Path) -> Path:
    key, certificate = issue(authority, identity)
    write_credentials(directory, key, certificate, authority.trust_bundle())
    return directory


def test_two_issued_certificates_complete_a_real_mtls_handshake(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    server_dir = credentials_for(authority, REVIEWS, tmp_path / "reviews")
    client_dir = credentials_for(authority, PRODUCTPAGE, tmp_path / "productpage")

    result = handshake(
        mtls_context(True, server_dir, server_dir / "root-cert.pem"),
        mtls_context(False, client_dir, client_dir / "root-cert.pem"),
    )

    assert result.server_error is None and result.client_error is None
    assert result.received == b"hello from the server"
    assert result.server_peer is not None and result.client_peer is not None
    assert result.server_peer["subjectAltName"] == (("URI", PRODUCTPAGE.uri),)
    assert result.client_peer["subjectAltName"] == (("URI", REVIEWS.uri),)


def test_a_plugged_in_ca_completes_a_real_mtls_handshake(cacerts: Path, tmp_path: Path) -> None:
    authority = CertificateAuthority.load_plugged_in(cacerts)
    server_dir = credentials_for(authority, REVIEWS, tmp_path / "reviews")
    client_dir = credentials_for(authority, PRODUCTPAGE, tmp_path / "productpage")

    result = handshake(
        mtls_context(True, server_dir, cacerts / "root-cert.pem"),
        mtls_context(False, client_dir, cacerts / "root-cert.pem"),
    )

    assert result.server_error is None and result.client_error is None
    assert result.server_peer is not None
    assert result.server_peer["subjectAltName"] == (("URI", PRODUCTPAGE.uri),)


def test_a_client_from_another_ca_is_turned_away(authority: CertificateAuthority, tmp_path: Path) -> None:
    stranger_ca = CertificateAuthority.load_or_create(tmp_path / "stranger-ca")
    server_dir = credentials_for(authority, REVIEWS, tmp_path / "reviews")
    stranger_dir = credentials_for(stranger_ca, PRODUCTPAGE, tmp_path / "stranger")

    result = handshake(
        mtls_context(True, server_dir, server_dir / "root-cert.pem"),
        # The stranger trusts the mesh's root, so only the server's check can stop it.
        mtls_context(False, stranger_dir, server_dir / "root-cert.pem"),
    )

    assert isinstance(result.server_error, ssl.SSLError)
    assert "certificate verify failed" in str(result.server_error)
    assert result.server_peer is None
    assert result.received == b""
