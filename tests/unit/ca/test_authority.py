from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mesh_runtime.ca.authority import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    CAConfigError,
    CertGenError,
    CertificateAuthority,
    CSRError,
    TTLError,
    go_duration,
)
from mesh_runtime.ca.metrics import CAMetrics
from mesh_runtime.ca.pki import SigningKey

from .pki import TestCA, csr_for, csr_pem, make_ca, rsa_key, verify_independently, write_cacerts

PRODUCTPAGE = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
REVIEWS = "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"


def new_csr(uri_sans: list[str] | None = None, dns_sans: list[str] | None = None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return csr_pem(csr_for(key, uri_sans=uri_sans, dns_sans=dns_sans))


def leaf_of(chain: list[str]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(chain[0].encode())


# -- the self-signed root ------------------------------------------------------------------------------


def test_first_start_creates_a_self_signed_p256_root_valid_ten_years(tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    before = datetime.now(UTC).replace(microsecond=0)
    authority = CertificateAuthority.load_or_create(directory)

    root = x509.load_pem_x509_certificate((directory / CA_CERT_FILE).read_bytes())
    key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert root.public_key() == key.public_key()
    assert root.subject == root.issuer
    assert root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "meshlab"
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "meshlab root CA"
    root.verify_directly_issued_by(root)
    assert root.not_valid_after_utc - root.not_valid_before_utc == timedelta(days=3650)
    assert root.not_valid_before_utc >= before
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert authority.trust_bundle() == (directory / CA_CERT_FILE).read_text()
    assert not authority.plugged_in


def test_the_root_key_is_owner_only_and_no_temp_file_is_left(tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    CertificateAuthority.load_or_create(directory)

    assert stat.S_IMODE(os.stat(directory / CA_KEY_FILE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert sorted(p.name for p in directory.iterdir()) == [CA_CERT_FILE, CA_KEY_FILE]


def test_a_restart_loads_the_same_root(tmp_path: Path) -> None:
    first = CertificateAuthority.load_or_create(tmp_path / "ca")
    key_before = (tmp_path / "ca" / CA_KEY_FILE).read_bytes()

    second = CertificateAuthority.load_or_create(tmp_path / "ca")

    assert second.trust_bundle() == first.trust_bundle()
    assert (tmp_path / "ca" / CA_KEY_FILE).read_bytes() == key_before
    chain = second.sign_csr(new_csr(), [PRODUCTPAGE]).cert_chain
    assert verify_independently(chain, first.trust_bundle()) == [PRODUCTPAGE]


def test_a_start_interrupted_after_the_key_finishes_the_root_for_that_key(tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    CertificateAuthority.load_or_create(directory)
    key_pem = (directory / CA_KEY_FILE).read_bytes()
    (directory / CA_CERT_FILE).unlink()

    authority = CertificateAuthority.load_or_create(directory)

    root = x509.load_pem_x509_certificate(authority.trust_bundle().encode())
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert root.public_key() == key.public_key()


def test_a_root_without_its_key_is_an_error_not_a_new_root(tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    CertificateAuthority.load_or_create(directory)
    root_before = (directory / CA_CERT_FILE).read_bytes()
    (directory / CA_KEY_FILE).unlink()

    with pytest.raises(CAConfigError) as raised:
        CertificateAuthority.load_or_create(directory)

    assert str(raised.value).startswith(f"{directory / CA_KEY_FILE}: missing, while ca-cert.pem is there")
    assert (directory / CA_CERT_FILE).read_bytes() == root_before


def test_an_expired_self_signed_root_says_how_to_start_over(tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    old = make_ca("old root", not_before=datetime(2010, 1, 1, tzinfo=UTC), lifetime=timedelta(days=365))
    directory.mkdir()
    (directory / CA_CERT_FILE).write_bytes(old.cert_pem())
    (directory / CA_KEY_FILE).write_bytes(old.key_pem())

    with pytest.raises(CAConfigError) as raised:
        CertificateAuthority.load_or_create(directory)

    message = str(raised.value)
    assert message.startswith(f"{directory / CA_CERT_FILE}: the certificate (")
    assert "expired on 2011-01-01T00:00:00Z" in message
    assert "remove ca-cert.pem and ca-key.pem to create a new root" in message


def test_a_ca_cert_that_is_not_self_signed_needs_the_plugged_in_files(
    tmp_path: Path, intermediate: TestCA
) -> None:
    directory = tmp_path / "ca"
    directory.mkdir()
    (directory / CA_CERT_FILE).write_bytes(intermediate.cert_pem())
    (directory / CA_KEY_FILE).write_bytes(intermediate.key_pem())

    with pytest.raises(CAConfigError, match="is not self-signed: .* add cert-chain.pem and root-cert.pem"):
        CertificateAuthority.load_or_create(directory)


# -- signing -------------------------------------------------------------------------------------------


def test_the_leaf_carries_the_callers_identities_and_chains_to_the_root(
    authority: CertificateAuthority,
) -> None:
    chain = authority.sign_csr(new_csr(), [PRODUCTPAGE, REVIEWS])

    assert len(chain.cert_chain) == 2
    assert chain.root == authority.trust_bundle()
    assert verify_independently(chain.cert_chain, authority.trust_bundle()) == [PRODUCTPAGE, REVIEWS]


def test_the_san_the_csr_asks_for_is_ignored(authority: CertificateAuthority) -> None:
    csr = new_csr(
        uri_sans=["spiffe://cluster.local/ns/istio-system/sa/istiod"], dns_sans=["evil.example.com"]
    )

    leaf = leaf_of(authority.sign_csr(csr, [PRODUCTPAGE]).cert_chain)

    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.critical
    assert list(names.value) == [x509.UniformResourceIdentifier(PRODUCTPAGE)]
    assert leaf.subject == x509.Name([])


def test_the_leaf_is_a_workload_certificate_for_the_csrs_key(authority: CertificateAuthority) -> None:
    key = ec.generate_private_key(ec.SECP256R1())

    leaf = leaf_of(authority.sign_csr(csr_pem(csr_for(key)), [PRODUCTPAGE]).cert_chain)

    assert leaf.public_key() == key.public_key()
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment
    assert not usage.key_cert_sign and not usage.crl_sign
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert leaf.issuer == x509.load_pem_x509_certificate(authority.trust_bundle().encode()).subject


def test_default_ttl_is_24_hours_valid_from_two_minutes_before(authority: CertificateAuthority) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    leaf = leaf_of(authority.sign_csr(new_csr(), [PRODUCTPAGE]).cert_chain)
    after = datetime.now(UTC)

    assert before + timedelta(hours=24) <= leaf.not_valid_after_utc <= after + timedelta(hours=24)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=24, minutes=2)


@pytest.mark.parametrize("ttl", [None, timedelta(0), timedelta(seconds=-5)])
def test_no_ttl_means_the_default(authority: CertificateAuthority, ttl: timedelta | None) -> None:
    leaf = leaf_of(authority.sign_csr(new_csr(), [PRODUCTPAGE], ttl).cert_chain)

    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=24, minutes=2)


@pytest.mark.parametrize("ttl", [timedelta(hours=1), timedelta(days=90)])
def test_the_requested_ttl_up_to_the_max_is_granted(authority: CertificateAuthority, ttl: timedelta) -> None:
    leaf = leaf_of(authority.sign_csr(new_csr(), [PRODUCTPAGE], ttl).cert_chain)

    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == ttl + timedelta(minutes=2)


def test_a_ttl_over_the_max_is_refused_as_istio_words_it(
    authority: CertificateAuthority, metrics: CAMetrics
) -> None:
    with pytest.raises(TTLError) as raised:
        authority.sign_csr(new_csr(), [PRODUCTPAGE], timedelta(days=91))

    assert str(raised.value) == "requested TTL 2184h0m0s is greater than the max allowed TTL 2160h0m0s"
    assert metrics.csr_sign_err_count.value("TTL_ERROR") == 1
    assert metrics.success_cert_issuance_count.value() == 0


def test_a_tampered_csr_is_refused(authority: CertificateAuthority, metrics: CAMetrics) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = csr_for(key, common_name="aaaaaaaa").public_bytes(serialization.Encoding.DER)
    tampered = x509.load_der_x509_csr(der.replace(b"aaaaaaaa", b"bbbbbbbb"))

    with pytest.raises(CSRError, match="signature does not match its content: it was altered"):
        authority.sign_csr(csr_pem(tampered), [PRODUCTPAGE])

    assert metrics.csr_parsing_err_count.value() == 1
    assert metrics.csr_sign_err_count.value("CSR_ERROR") == 1


def test_an_rsa_1024_key_is_refused(authority: CertificateAuthority) -> None:
    with pytest.raises(CSRError) as raised:
        authority.sign_csr(csr_pem(csr_for(rsa_key(1024))), [PRODUCTPAGE])

    assert str(raised.value) == (
        "the CSR's key is RSA 1024-bit, which is too weak: "
        "use EC P-256, EC P-384 or RSA of at least 2048 bits"
    )


def test_an_ec_p521_key_is_refused(authority: CertificateAuthority) -> None:
    with pytest.raises(CSRError, match="the CSR's key is EC P-521, which is not accepted"):
        authority.sign_csr(csr_pem(csr_for(ec.generate_private_key(ec.SECP521R1()))), [PRODUCTPAGE])


def test_an_ed25519_key_is_refused(authority: CertificateAuthority) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, None)

    with pytest.raises(CSRError, match="Ed25519, which is not accepted"):
        authority.sign_csr(csr_pem(csr), [PRODUCTPAGE])


@pytest.mark.parametrize(
    "key",
    [ec.generate_private_key(ec.SECP384R1()), rsa_key(2048)],
    ids=["ec-p384", "rsa-2048"],
)
def test_p384_and_rsa_2048_keys_are_signed(authority: CertificateAuthority, key: SigningKey) -> None:
    chain = authority.sign_csr(csr_pem(csr_for(key)), [PRODUCTPAGE])

    assert leaf_of(chain.cert_chain).public_key() == key.public_key()
    assert verify_independently(chain.cert_chain, authority.trust_bundle()) == [PRODUCTPAGE]


@pytest.mark.parametrize("data", [b"", b"not a csr", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"])
def test_what_is_not_a_csr_is_a_parsing_error(
    authority: CertificateAuthority, metrics: CAMetrics, data: bytes
) -> None:
    with pytest.raises(CSRError, match="failed to parse the CSR"):
        authority.sign_csr(data, [PRODUCTPAGE])

    assert metrics.csr_parsing_err_count.value() == 1


def test_a_caller_without_identity_gets_nothing(authority: CertificateAuthority, metrics: CAMetrics) -> None:
    with pytest.raises(CertGenError, match="no identity"):
        authority.sign_csr(new_csr(), [])

    assert metrics.csr_sign_err_count.value("CERT_GEN_ERROR") == 1


def test_an_identity_that_is_not_spiffe_is_refused(authority: CertificateAuthority) -> None:
    with pytest.raises(CertGenError, match="'bookinfo-productpage' is not a SPIFFE URI"):
        authority.sign_csr(new_csr(), ["bookinfo-productpage"])


def test_successful_issuances_are_counted(authority: CertificateAuthority, metrics: CAMetrics) -> None:
    authority.sign_csr(new_csr(), [PRODUCTPAGE])
    authority.sign_csr(new_csr(), [REVIEWS])

    assert metrics.success_cert_issuance_count.value() == 2
    root = x509.load_pem_x509_certificate(authority.trust_bundle().encode())
    assert metrics.root_cert_expiry_timestamp.value() == root.not_valid_after_utc.timestamp()
    assert metrics.cert_chain_expiry_timestamp.value() is None


# -- a plugged-in CA ------------------------------------------------------------------------------------


def test_a_plugged_in_intermediate_signs_chains_to_the_external_root(
    cacerts: Path, external_root: TestCA, intermediate: TestCA, metrics: CAMetrics
) -> None:
    authority = CertificateAuthority.load_or_create(cacerts, metrics=metrics)

    chain = authority.sign_csr(new_csr(), [PRODUCTPAGE]).cert_chain

    assert authority.plugged_in
    assert authority.trust_bundle() == external_root.cert_pem().decode()
    assert chain[1:] == [intermediate.cert_pem().decode(), external_root.cert_pem().decode()]
    assert leaf_of(chain).issuer == intermediate.cert.subject
    assert verify_independently(chain, (cacerts / "root-cert.pem").read_bytes()) == [PRODUCTPAGE]
    assert metrics.cert_chain_expiry_timestamp.value() == intermediate.cert.not_valid_after_utc.timestamp()
    assert metrics.root_cert_expiry_timestamp.value() == external_root.cert.not_valid_after_utc.timestamp()


def test_a_two_level_plugged_in_chain_is_served_whole(tmp_path: Path, external_root: TestCA) -> None:
    regional = make_ca("regional CA", external_root, path_length=1)
    cluster = make_ca("cluster CA", regional, path_length=0, key=rsa_key(2048))
    directory = write_cacerts(
        tmp_path / "cacerts", cluster, [cluster, regional, external_root], [external_root]
    )

    chain = CertificateAuthority.load_plugged_in(directory).sign_csr(new_csr(), [REVIEWS]).cert_chain

    assert [x509.load_pem_x509_certificate(c.encode()).subject for c in chain[1:]] == [
        cluster.cert.subject,
        regional.cert.subject,
        external_root.cert.subject,
    ]
    assert verify_independently(chain, external_root.cert_pem()) == [REVIEWS]


def test_a_leaf_never_outlives_the_plugged_in_ca(tmp_path: Path, external_root: TestCA) -> None:
    short = make_ca("short-lived CA", external_root, lifetime=timedelta(hours=2))
    directory = write_cacerts(tmp_path / "cacerts", short, [short, external_root], [external_root])

    leaf = leaf_of(
        CertificateAuthority.load_plugged_in(directory).sign_csr(new_csr(), [PRODUCTPAGE]).cert_chain
    )

    assert leaf.not_valid_after_utc == short.cert.not_valid_after_utc


def test_plugged_in_files_missing_one(cacerts: Path) -> None:
    (cacerts / "cert-chain.pem").unlink()

    with pytest.raises(CAConfigError) as raised:
        CertificateAuthority.load_or_create(cacerts)

    assert str(raised.value) == (
        f"{cacerts / 'cert-chain.pem'}: missing: a plugged-in CA needs "
        "ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem (Istio's cacerts layout)"
    )


def test_plugged_in_key_that_does_not_match_the_cert(cacerts: Path) -> None:
    other = make_ca("someone else")
    (cacerts / "ca-key.pem").write_bytes(other.key_pem())

    with pytest.raises(CAConfigError) as raised:
        CertificateAuthority.load_or_create(cacerts)

    assert str(raised.value).startswith(f"{cacerts / 'ca-key.pem'}: the key (EC P-256) does not match")
    assert "the certificate in ca-cert.pem (CN=meshlab intermediate CA,O=External Corp" in str(raised.value)


def test_plugged_in_cert_that_is_not_a_ca(tmp_path: Path, external_root: TestCA) -> None:
    leaf = make_ca("not a CA", external_root, ca=False)
    directory = write_cacerts(tmp_path / "cacerts", leaf, [leaf, external_root], [external_root])

    with pytest.raises(CAConfigError) as raised:
        CertificateAuthority.load_plugged_in(directory)

    assert str(raised.value).startswith(
        f"{directory / 'ca-cert.pem'}: the certificate (CN=not a CA,O=External Corp) is not a CA"
    )


def test_plugged_in_cert_that_expired(tmp_path: Path, external_root: TestCA) -> None:
    expired = make_ca(
        "expired CA", external_root, not_before=datetime(2020, 1, 1, tzinfo=UTC), lifetime=timedelta(days=30)
    )
    directory = write_cacerts(tmp_path / "cacerts", expired, [expired, external_root], [external_root])

    with pytest.raises(CAConfigError) as raised:
        CertificateAuthority.load_plugged_in(directory)

    assert str(raised.value) == (
        f"{directory / 'ca-cert.pem'}: the certificate (CN=expired CA,O=External Corp) expired on "
        "2020-01-31T00:00:00Z; replace the plugged-in CA files"
    )


def test_plugged_in_chain_that_does_not_lead_to_root_cert(
    tmp_path: Path, external_root: TestCA, intermediate: TestCA
) -> None:
    stranger = make_ca("Some Other Root")
    directory = write_cacerts(tmp_path / "cacerts", intermediate, [intermediate, external_root], [stranger])

    with pytest.raises(CAConfigError) as raised:
        CertificateAuthority.load_plugged_in(directory)

    message = str(raised.value)
    assert message.startswith(
        f"{directory / 'cert-chain.pem'}: the chain of ca-cert.pem "
        "(CN=meshlab intermediate CA,O=External Corp) does not lead to a certificate in root-cert.pem: "
    )
    assert "no intermediate or root certificate issued CN=External Root CA" in message


def test_plugged_in_chain_missing_the_middle_link(tmp_path: Path, external_root: TestCA) -> None:
    regional = make_ca("regional CA", external_root)
    cluster = make_ca("cluster CA", regional)
    directory = write_cacerts(tmp_path / "cacerts", cluster, [cluster, external_root], [external_root])

    with pytest.raises(CAConfigError, match="cert-chain.pem: the chain of ca-cert.pem .* does not lead to"):
        CertificateAuthority.load_plugged_in(directory)


def test_plugged_in_path_length_is_enforced(tmp_path: Path) -> None:
    root = make_ca("strict root", path_length=0)
    middle = make_ca("middle CA", root)
    signing = make_ca("signing CA", middle)
    directory = write_cacerts(tmp_path / "cacerts", signing, [signing, middle, root], [root])

    with pytest.raises(CAConfigError, match="allows 0 intermediate CA\\(s\\) below it; the chain has 2"):
        CertificateAuthority.load_plugged_in(directory)


@pytest.mark.parametrize("name", ["ca-cert.pem", "cert-chain.pem", "root-cert.pem"])
def test_plugged_in_file_that_is_not_pem(cacerts: Path, name: str) -> None:
    (cacerts / name).write_text("hello\n")

    with pytest.raises(CAConfigError) as raised:
        CertificateAuthority.load_plugged_in(cacerts)

    assert str(raised.value) == (
        f"{cacerts / name}: not a PEM certificate file: "
        "no PEM certificate (-----BEGIN CERTIFICATE-----) found"
    )


def test_plugged_in_key_that_is_encrypted(cacerts: Path, intermediate: TestCA) -> None:
    (cacerts / "ca-key.pem").write_bytes(
        intermediate.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )

    with pytest.raises(CAConfigError, match="ca-key.pem: the key is encrypted"):
        CertificateAuthority.load_plugged_in(cacerts)


def test_plugged_in_root_that_expired(tmp_path: Path) -> None:
    old_root = make_ca("old root", not_before=datetime(2015, 1, 1, tzinfo=UTC), lifetime=timedelta(days=365))
    signing = make_ca("signing CA", old_root)
    directory = write_cacerts(tmp_path / "cacerts", signing, [signing, old_root], [old_root])

    with pytest.raises(
        CAConfigError, match="root-cert.pem: the certificate \\(CN=old root.*expired on 2016-01-01"
    ):
        CertificateAuthority.load_plugged_in(directory)


def test_the_issued_certificate_is_signed_with_the_ca_keys_hash(tmp_path: Path) -> None:
    root = make_ca("p384 root", key=ec.generate_private_key(ec.SECP384R1()))
    directory = write_cacerts(tmp_path / "cacerts", root, [root], [root])

    chain = CertificateAuthority.load_plugged_in(directory).sign_csr(new_csr(), [PRODUCTPAGE]).cert_chain

    assert len(chain) == 2
    assert isinstance(leaf_of(chain).signature_hash_algorithm, hashes.SHA384)
    assert verify_independently(chain, root.cert_pem()) == [PRODUCTPAGE]


# -- Go durations in messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(hours=24), "24h0m0s"),
        (timedelta(days=90), "2160h0m0s"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(microseconds=7), "7µs"),
        (timedelta(hours=-1), "-1h0m0s"),
    ],
)
def test_durations_print_as_go_prints_them(duration: timedelta, text: str) -> None:
    assert go_duration(duration) == text
