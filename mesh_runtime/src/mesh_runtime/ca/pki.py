"""X.509 helpers shared by the CA and the workload side: PEM parsing, key rules, chain building."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes, PrivateKeyTypes

#: The keys a CA may sign with.
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

#: Workload keys the CA accepts in a CSR: EC on these curves, or RSA of at least this size.
ACCEPTED_CURVES = ("secp256r1", "secp384r1")
MIN_RSA_KEY_SIZE = 2048
#: A chain longer than this is refused rather than walked.
MAX_CHAIN_DEPTH = 8

_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


class ChainError(ValueError):
    """A certificate that does not chain to a trusted root."""


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order; ValueError when there is none or one is damaged."""
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError("no PEM certificate (-----BEGIN CERTIFICATE-----) found")
    return x509.load_pem_x509_certificates(data)


def certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def private_key_pem(key: PrivateKeyTypes) -> bytes:
    """PKCS#8, unencrypted: the file's permissions protect it."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_der(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def describe_key(key: CertificatePublicKeyTypes) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}-bit"
    return type(key).__name__.removeprefix("_").replace("PublicKey", "")


def workload_key_problem(key: CertificatePublicKeyTypes) -> str | None:
    """Why a CSR's key is refused, or None when it is one the CA signs (EC P-256/P-384, RSA >= 2048)."""
    accepted = f"use EC P-256, EC P-384 or RSA of at least {MIN_RSA_KEY_SIZE} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in ACCEPTED_CURVES:
            return None
        return f"the CSR's key is {describe_key(key)}, which is not accepted: {accepted}"
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size >= MIN_RSA_KEY_SIZE:
            return None
        return f"the CSR's key is {describe_key(key)}, which is too weak: {accepted}"
    return f"the CSR's key is {describe_key(key)}, which is not accepted: {accepted}"


def signing_hash(key: SigningKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    """The digest that matches the key's strength (SHA-256 for P-256 and RSA)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size > 384:
            return hashes.SHA512()
        if key.curve.key_size > 256:
            return hashes.SHA384()
    return hashes.SHA256()


def describe(certificate: x509.Certificate) -> str:
    """A certificate as a person recognises it: its subject, or its URI SANs when the subject is empty."""
    subject = certificate.subject.rfc4514_string()
    if subject:
        return subject
    uris = uri_sans(certificate)
    return ", ".join(uris) if uris else f"serial {certificate.serial_number:x}"


def uri_sans(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(extension.value.get_values_for_type(x509.UniformResourceIdentifier))


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def can_sign_certificates(certificate: x509.Certificate) -> bool:
    """A CA whose key usage (if it states one) includes certificate signing."""
    if not is_ca(certificate):
        return False
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def validity_problem(certificate: x509.Certificate, now: datetime) -> str | None:
    """Why the certificate is not valid at `now` (expired, or not valid yet), or None."""
    if now > certificate.not_valid_after_utc:
        return f"the certificate ({describe(certificate)}) expired on {_iso(certificate.not_valid_after_utc)}"
    if now < certificate.not_valid_before_utc:
        return (
            f"the certificate ({describe(certificate)}) is not valid before "
            f"{_iso(certificate.not_valid_before_utc)}: check this host's clock"
        )
    return None


def is_issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The issuer's name is the certificate's issuer name and the issuer's key made its signature."""
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def is_self_signed(certificate: x509.Certificate) -> bool:
    return is_issued_by(certificate, certificate)


def build_path(
    certificate: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: datetime,
) -> list[x509.Certificate]:
    """The path from `certificate` up to one of `roots`, both ends included; ChainError when there is none.

    Every issuer on the way must be a CA allowed to sign certificates, within its path length, and every
    certificate valid at `now`.
    """
    path = [certificate]
    current = certificate
    for _ in range(MAX_CHAIN_DEPTH):
        if current in roots:
            _check_path(path, now)
            return path
        root = next((candidate for candidate in roots if is_issued_by(current, candidate)), None)
        if root is not None:
            path.append(root)
            _check_path(path, now)
            return path
        issuer = next(
            (c for c in intermediates if c not in path and is_issued_by(current, c)),
            None,
        )
        if issuer is None:
            raise ChainError(
                f"no intermediate or root certificate issued {describe(current)} "
                f"(its issuer is {current.issuer.rfc4514_string() or 'empty'})"
            )
        path.append(issuer)
        current = issuer
    raise ChainError(f"the chain is longer than {MAX_CHAIN_DEPTH} certificates")


def _check_path(path: list[x509.Certificate], now: datetime) -> None:
    for certificate in path:
        problem = validity_problem(certificate, now)
        if problem is not None:
            raise ChainError(problem)
    # A CA at the bottom of the path (a signing certificate being checked) will itself sign leaves below it.
    below_start = 1 if is_ca(path[0]) else 0
    for index, issuer in enumerate(path[1:], start=1):
        if not can_sign_certificates(issuer):
            raise ChainError(f"{describe(issuer)} is not a CA allowed to sign certificates")
        limit = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
        intermediates_below = index - 1 + below_start
        if limit is not None and intermediates_below > limit:
            raise ChainError(
                f"{describe(issuer)} allows {limit} intermediate CA(s) below it; the chain has "
                f"{intermediates_below}"
            )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
