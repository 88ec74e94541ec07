"""Test PKI: external roots and intermediates made with cryptography, independently of the CA under test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mesh_runtime.ca.pki import SigningKey

PEM = serialization.Encoding.PEM


@dataclass
class TestCA:
    """A certificate with its key (not collected by pytest despite the name)."""

    __test__ = False

    cert: x509.Certificate
    key: SigningKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_ca(
    common_name: str,
    issuer: TestCA | None = None,
    *,
    key: SigningKey | None = None,
    ca: bool = True,
    path_length: int | None = None,
    not_before: datetime | None = None,
    lifetime: timedelta = timedelta(days=365),
) -> TestCA:
    """A CA certificate signed by `issuer` (self-signed when None), with the extensions real CAs carry."""
    own_key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "External Corp"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    signer_key = issuer.key if issuer else own_key
    start = not_before or datetime.now(UTC) - timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(own_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(own_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False
        )
    )
    return TestCA(builder.sign(signer_key, hashes.SHA256()), own_key)


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def write_cacerts(directory: Path, signing: TestCA, chain: list[TestCA], roots: list[TestCA]) -> Path:
    """Istio's cacerts layout: ca-cert.pem, ca-key.pem, cert-chain.pem (signing CA first), root-cert.pem."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca-cert.pem").write_bytes(signing.cert_pem())
    (directory / "ca-key.pem").write_bytes(signing.key_pem())
    (directory / "cert-chain.pem").write_bytes(b"".join(c.cert_pem() for c in chain))
    (directory / "root-cert.pem").write_bytes(b"".join(r.cert_pem() for r in roots))
    return directory


def verify_independently(
    cert_chain: list[str], roots_pem: str | bytes, at: datetime | None = None
) -> list[str]:
    """Check a chain with cryptography's own verifier (not the code under test); the leaf's URI SANs."""
    from cryptography.x509.verification import PolicyBuilder, Store

    certificates = [x509.load_pem_x509_certificate(pem.encode()) for pem in cert_chain]
    data = roots_pem.encode() if isinstance(roots_pem, str) else roots_pem
    verifier = (
        PolicyBuilder()
        .store(Store(x509.load_pem_x509_certificates(data)))
        .time(at or datetime.now(UTC))
        .build_client_verifier()
    )
    verified = verifier.verify(certificates[0], certificates[1:])
    assert verified.subjects is not None
    return [str(name.value) for name in verified.subjects if isinstance(name, x509.UniformResourceIdentifier)]


def csr_for(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    uri_sans: list[str] | None = None,
    dns_sans: list[str] | None = None,
    common_name: str | None = None,
) -> x509.CertificateSigningRequest:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uri_sans or []]
    names += [x509.DNSName(d) for d in dns_sans or []]
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=not common_name)
    return builder.sign(key, hashes.SHA256())


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(PEM)
