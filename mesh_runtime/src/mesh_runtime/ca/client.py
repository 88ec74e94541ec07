"""The workload side of the CA: a key that never leaves the host, a CSR for an identity, the returned chain
checked against the trust bundle, and when to renew.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from .files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, ensure_private_directory, write_atomically
from .identity import Identity
from .pki import (
    ChainError,
    build_path,
    certificate_pem,
    describe,
    is_ca,
    load_certificates,
    private_key_pem,
    public_key_der,
    uri_sans,
)

#: Istio's SECRET_TTL: the lifetime a workload asks for.
SECRET_TTL = timedelta(hours=24)
#: Istio's SECRET_GRACE_PERIOD_RATIO: renew when this share of the lifetime is left (at half-life).
SECRET_GRACE_PERIOD_RATIO = 0.5
#: Istio's SECRET_GRACE_PERIOD_RATIO_JITTER: the ratio moves by up to this much either way, at random,
#: so that workloads started together do not all renew at the same moment.
SECRET_GRACE_PERIOD_RATIO_JITTER = 0.01

#: The files a workload keeps, named as Istio's agent names them.
KEY_FILE = "key.pem"
CERT_CHAIN_FILE = "cert-chain.pem"
ROOT_CERT_FILE = "root-cert.pem"


class VerificationError(ValueError):
    """A returned certificate chain that this workload must not use."""


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 key, made on the workload's host."""
    return ec.generate_private_key(ec.SECP256R1())


def build_csr(key: ec.EllipticCurvePrivateKey, identity: Identity) -> bytes:
    """A PEM CSR for `identity`, signed by `key`. The CA ignores the SAN asked for and uses the caller's."""
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity.uri)]), critical=True
        )
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


@dataclass(frozen=True)
class WorkloadCertificate:
    """A checked chain for one identity: the leaf, the intermediates, the trusted root it leads to."""

    identity: Identity
    #: As the CA sent it, leaf first.
    chain: tuple[x509.Certificate, ...]
    #: The root in the trust bundle the chain leads to.
    root: x509.Certificate

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def not_before(self) -> datetime:
        return self.leaf.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.leaf.not_valid_after_utc

    def cert_chain_pem(self) -> str:
        """Leaf, intermediates and root, as Istio's agent writes `cert-chain.pem`."""
        chain = list(self.chain)
        if chain[-1] != self.root:
            chain.append(self.root)
        return "".join(certificate_pem(certificate) for certificate in chain)


def verify_cert_chain(
    cert_chain: Sequence[str],
    trust_bundle: str | bytes,
    identity: Identity,
    *,
    key: ec.EllipticCurvePrivateKey | None = None,
    now: datetime | None = None,
) -> WorkloadCertificate:
    """Check what the CA returned before using it: raises VerificationError saying what is wrong.

    The leaf must be a workload certificate (not a CA, server and client auth) for `identity`, for `key` when
    given, and lead through the chain to a root in `trust_bundle`, every certificate in date.
    """
    moment = now or datetime.now(UTC)
    chain = _parse_chain(cert_chain)
    roots = _parse_trust_bundle(trust_bundle)
    leaf = chain[0]
    _check_leaf(leaf, identity)
    if key is not None and public_key_der(key.public_key()) != public_key_der(leaf.public_key()):
        raise VerificationError("the certificate is not for this workload's key (the CA signed another key)")
    try:
        path = build_path(leaf, chain[1:], roots, moment)
    except ChainError as error:
        raise VerificationError(
            f"the certificate chain does not lead to a root in the trust bundle: {error}"
        ) from None
    return WorkloadCertificate(identity=identity, chain=tuple(chain), root=path[-1])


def renewal_time(
    certificate: x509.Certificate,
    *,
    grace_ratio: float = SECRET_GRACE_PERIOD_RATIO,
    jitter: float = SECRET_GRACE_PERIOD_RATIO_JITTER,
    rng: random.Random | None = None,
) -> datetime:
    """When to ask for a new certificate: `grace_ratio` ± up to `jitter` of its lifetime before it expires.

    With Istio's defaults: at half-life, give or take 1% of the lifetime.
    """
    chooser = rng or random.Random()
    ratio = grace_ratio + chooser.random() * jitter * chooser.choice((-1, 1))
    ratio = min(max(ratio, 0.0), 1.0)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    return certificate.not_valid_after_utc - lifetime * ratio


def renewal_delay(
    certificate: x509.Certificate,
    *,
    now: datetime | None = None,
    grace_ratio: float = SECRET_GRACE_PERIOD_RATIO,
    jitter: float = SECRET_GRACE_PERIOD_RATIO_JITTER,
    rng: random.Random | None = None,
) -> timedelta:
    """How long to wait from `now` before renewing; zero when that moment has passed."""
    moment = now or datetime.now(UTC)
    due = renewal_time(certificate, grace_ratio=grace_ratio, jitter=jitter, rng=rng)
    return max(due - moment, timedelta(0))


def write_credentials(
    directory: Path | str,
    key: ec.EllipticCurvePrivateKey,
    certificate: WorkloadCertificate,
    trust_bundle: str,
) -> None:
    """Write `key.pem` (0600), `cert-chain.pem` and `root-cert.pem`, each replaced atomically.

    The key is written first: a reader that sees the new chain also finds its key.
    """
    directory = Path(directory)
    ensure_private_directory(directory)
    write_atomically(directory / KEY_FILE, private_key_pem(key), PRIVATE_FILE_MODE)
    write_atomically(
        directory / CERT_CHAIN_FILE, certificate.cert_chain_pem().encode("ascii"), PUBLIC_FILE_MODE
    )
    write_atomically(directory / ROOT_CERT_FILE, trust_bundle.encode("ascii"), PUBLIC_FILE_MODE)


def _parse_chain(cert_chain: Sequence[str]) -> list[x509.Certificate]:
    if not cert_chain:
        raise VerificationError("the CA returned an empty certificate chain")
    chain: list[x509.Certificate] = []
    for index, pem in enumerate(cert_chain):
        try:
            chain.extend(load_certificates(pem.encode("ascii", "replace")))
        except ValueError as error:
            raise VerificationError(f"cert_chain[{index}] is not a PEM certificate: {error}") from None
    return chain


def _parse_trust_bundle(trust_bundle: str | bytes) -> list[x509.Certificate]:
    data = trust_bundle.encode("ascii", "replace") if isinstance(trust_bundle, str) else trust_bundle
    try:
        return load_certificates(data)
    except ValueError as error:
        raise VerificationError(f"the trust bundle is not a PEM certificate bundle: {error}") from None


def _check_leaf(leaf: x509.Certificate, identity: Identity) -> None:
    if is_ca(leaf):
        raise VerificationError(
            f"the leaf certificate ({describe(leaf)}) is a CA, not a workload certificate"
        )
    sans = uri_sans(leaf)
    if identity.uri not in sans:
        found = ", ".join(sans) if sans else "none"
        raise VerificationError(f"the certificate is not for {identity}: its URI SANs are {found}")
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    missing = [
        name
        for name, oid in (
            ("server auth", ExtendedKeyUsageOID.SERVER_AUTH),
            ("client auth", ExtendedKeyUsageOID.CLIENT_AUTH),
        )
        if oid not in usages
    ]
    if missing:
        raise VerificationError(f"the certificate is not usable for mTLS: it lacks {' and '.join(missing)}")
