"""The mesh's certificate authority: a root it creates itself or a plugged-in CA, and CSR signing.

A CA directory holds one of two layouts:

- self-signed (created on first start, as istiod's `istio-ca-secret`): `ca-cert.pem` (the root) and
  `ca-key.pem` (its key, mode 0600);
- plugged-in (Istio's `cacerts` layout): `ca-cert.pem` and `ca-key.pem` (an intermediate CA and its key),
  `cert-chain.pem` (the intermediate's chain) and `root-cert.pem` (the external root(s)).

The plugged-in layout is used as soon as `cert-chain.pem` or `root-cert.pem` is present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, ensure_private_directory, write_atomically
from .identity import Identity, IdentityError
from .metrics import CAMetrics
from .pki import (
    ChainError,
    SigningKey,
    build_path,
    can_sign_certificates,
    certificate_pem,
    describe,
    describe_key,
    is_ca,
    is_self_signed,
    load_certificates,
    private_key_pem,
    public_key_der,
    signing_hash,
    validity_problem,
    workload_key_problem,
)

#: Istio's DEFAULT_WORKLOAD_CERT_TTL: used when a request asks for no TTL (or one <= 0).
DEFAULT_WORKLOAD_CERT_TTL = timedelta(hours=24)
#: Istio's MAX_WORKLOAD_CERT_TTL: a longer request is refused.
MAX_WORKLOAD_CERT_TTL = timedelta(days=90)
#: Istio's CITADEL_SELF_SIGNED_CA_CERT_TTL.
SELF_SIGNED_CA_CERT_TTL = timedelta(days=3650)
#: Leaves are valid from this long before they are signed, for clocks a little behind the CA's (as Istio).
CLOCK_SKEW_GRACE_PERIOD = timedelta(minutes=2)

ROOT_ORGANIZATION = "meshlab"
ROOT_COMMON_NAME = "meshlab root CA"

CA_CERT_FILE = "ca-cert.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_CHAIN_FILE = "cert-chain.pem"
ROOT_CERT_FILE = "root-cert.pem"
PLUGGED_IN_FILES = (CA_CERT_FILE, CA_KEY_FILE, CERT_CHAIN_FILE, ROOT_CERT_FILE)


class CAError(Exception):
    """A CA failure; `error_type` is the value of the `error` label Istio counts signing errors under."""

    error_type: ClassVar[str] = "UNKNOWN"


class CSRError(CAError):
    """The CSR cannot be parsed, its signature does not verify, or its key is not accepted."""

    error_type = "CSR_ERROR"


class TTLError(CAError):
    """The requested TTL is longer than the CA allows."""

    error_type = "TTL_ERROR"


class CertGenError(CAError):
    """The certificate could not be made (for example: no valid identity to put in it)."""

    error_type = "CERT_GEN_ERROR"


class CAConfigError(CAError):
    """A CA file that is missing, unreadable or not acceptable; the message starts with its path."""

    error_type = "CA_ILLEGAL_CONFIG"

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class CertChain:
    """A workload certificate and its chain, one PEM certificate each: leaf first, root last."""

    cert_chain: list[str]

    @property
    def leaf(self) -> str:
        return self.cert_chain[0]

    @property
    def root(self) -> str:
        return self.cert_chain[-1]

    def pem(self) -> str:
        """The whole chain as one PEM bundle (what `cert-chain.pem` holds on a workload's host)."""
        return "".join(self.cert_chain)

    def certificates(self) -> list[x509.Certificate]:
        return [x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in self.cert_chain]


class CertificateAuthority:
    """Signs workload CSRs into SPIFFE certificates. Build one with `load_or_create` or `load_plugged_in`."""

    def __init__(
        self,
        *,
        signing_cert: x509.Certificate,
        signing_key: SigningKey,
        issuer_path: Sequence[x509.Certificate],
        roots: Sequence[x509.Certificate],
        plugged_in: bool,
        default_ttl: timedelta = DEFAULT_WORKLOAD_CERT_TTL,
        max_ttl: timedelta = MAX_WORKLOAD_CERT_TTL,
        metrics: CAMetrics | None = None,
    ) -> None:
        """`issuer_path`: from `signing_cert` to its root, both included (only the root if self-signed)."""
        if default_ttl <= timedelta(0) or default_ttl > max_ttl:
            raise ValueError(f"the default TTL {go_duration(default_ttl)} must be > 0 and <= the max TTL")
        self.signing_cert = signing_cert
        self._signing_key = signing_key
        self.issuer_path = list(issuer_path)
        self.roots = list(roots)
        self.plugged_in = plugged_in
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.metrics = metrics if metrics is not None else CAMetrics()
        self._issuer_pems = [certificate_pem(certificate) for certificate in self.issuer_path]
        # A leaf never outlives the chain above it.
        self._chain_not_after = min(certificate.not_valid_after_utc for certificate in self.issuer_path)
        # As Istio: a chain gauge for a plugged-in CA only (the signing certificate and its intermediates).
        chain = (self.issuer_path[:-1] or self.issuer_path) if plugged_in else []
        self.metrics.record_certs_expiry(
            self.issuer_path[-1].not_valid_after_utc,
            min((c.not_valid_after_utc for c in chain), default=None),
        )

    # -- loading -------------------------------------------------------------------------------------------

    @classmethod
    def load_or_create(
        cls,
        directory: Path | str,
        *,
        default_ttl: timedelta = DEFAULT_WORKLOAD_CERT_TTL,
        max_ttl: timedelta = MAX_WORKLOAD_CERT_TTL,
        root_ttl: timedelta = SELF_SIGNED_CA_CERT_TTL,
        metrics: CAMetrics | None = None,
    ) -> CertificateAuthority:
        """The CA kept in `directory`: plugged-in files, else the self-signed root (created on first start).

        Raises CAConfigError naming the file at fault.
        """
        directory = Path(directory)
        if any((directory / name).exists() for name in (CERT_CHAIN_FILE, ROOT_CERT_FILE)):
            return cls.load_plugged_in(directory, default_ttl=default_ttl, max_ttl=max_ttl, metrics=metrics)
        cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
        if not key_path.exists():
            if cert_path.exists():
                raise CAConfigError(
                    key_path,
                    f"missing, while {CA_CERT_FILE} is there: restore the key, or remove {CA_CERT_FILE} to "
                    "create a new root (every workload certificate then has to be reissued)",
                )
            _create_root_key(directory)
        if not cert_path.exists():
            # First start, or a start that stopped between writing the key and the certificate.
            _create_root_cert(directory, root_ttl)
        return cls._load_self_signed(directory, default_ttl=default_ttl, max_ttl=max_ttl, metrics=metrics)

    @classmethod
    def load_plugged_in(
        cls,
        directory: Path | str,
        *,
        default_ttl: timedelta = DEFAULT_WORKLOAD_CERT_TTL,
        max_ttl: timedelta = MAX_WORKLOAD_CERT_TTL,
        metrics: CAMetrics | None = None,
    ) -> CertificateAuthority:
        """A CA from Istio's cacerts files, checked: key matches, a CA, in date, chains to root-cert.pem."""
        directory = Path(directory)
        for name in PLUGGED_IN_FILES:
            if not (directory / name).is_file():
                raise CAConfigError(
                    directory / name,
                    "missing: a plugged-in CA needs "
                    + ", ".join(PLUGGED_IN_FILES)
                    + " (Istio's cacerts layout)",
                )
        now = datetime.now(UTC)
        cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
        chain_path, root_path = directory / CERT_CHAIN_FILE, directory / ROOT_CERT_FILE
        signing_cert = _read_certificates(cert_path)[0]
        signing_key = _read_signing_key(key_path)
        chain = _read_certificates(chain_path)
        roots = _read_certificates(root_path)
        _check_key_matches(signing_key, key_path, signing_cert, cert_path)
        _check_signing_cert(signing_cert, cert_path, now, fix="replace the plugged-in CA files")
        for root in roots:
            if not is_ca(root):
                raise CAConfigError(root_path, f"{describe(root)} is not a CA certificate")
            _check_in_date(root, root_path, now)
        for certificate in chain:
            _check_in_date(certificate, chain_path, now)
        try:
            path = build_path(signing_cert, chain, roots, now)
        except ChainError as error:
            raise CAConfigError(
                chain_path,
                f"the chain of {CA_CERT_FILE} ({describe(signing_cert)}) does not lead to a certificate in "
                f"{ROOT_CERT_FILE}: {error}",
            ) from None
        return cls(
            signing_cert=signing_cert,
            signing_key=signing_key,
            issuer_path=path,
            roots=roots,
            plugged_in=True,
            default_ttl=default_ttl,
            max_ttl=max_ttl,
            metrics=metrics,
        )

    @classmethod
    def _load_self_signed(
        cls,
        directory: Path,
        *,
        default_ttl: timedelta,
        max_ttl: timedelta,
        metrics: CAMetrics | None,
    ) -> CertificateAuthority:
        now = datetime.now(UTC)
        cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
        root = _read_certificates(cert_path)[0]
        key = _read_signing_key(key_path)
        _check_key_matches(key, key_path, root, cert_path)
        if not is_self_signed(root):
            raise CAConfigError(
                cert_path,
                f"{describe(root)} is not self-signed: to use a CA signed by another root, add "
                f"{CERT_CHAIN_FILE} and {ROOT_CERT_FILE} (Istio's cacerts layout)",
            )
        _check_signing_cert(
            root,
            cert_path,
            now,
            fix=f"remove {CA_CERT_FILE} and {CA_KEY_FILE} to create a new root (every workload certificate "
            "then has to be reissued)",
        )
        return cls(
            signing_cert=root,
            signing_key=key,
            issuer_path=[root],
            roots=[root],
            plugged_in=False,
            default_ttl=default_ttl,
            max_ttl=max_ttl,
            metrics=metrics,
        )

    # -- signing -------------------------------------------------------------------------------------------

    def sign_csr(
        self,
        csr_pem: bytes | str,
        identities: Sequence[str | Identity],
        ttl: timedelta | None = None,
    ) -> CertChain:
        """Sign the CSR's key into a workload certificate for `identities` (the caller's, never the CSR's).

        `ttl` None or <= 0 means the default (24h); more than the max (90 days) is refused, as Istio.
        Raises CSRError, TTLError or CertGenError; each is counted in the metrics.
        """
        try:
            chain = self._sign(csr_pem, identities, ttl)
        except CAError as error:
            if isinstance(error, CSRError):
                self.metrics.record_csr_parsing_error()
            self.metrics.record_sign_error(error.error_type)
            raise
        self.metrics.record_success()
        return chain

    def trust_bundle(self) -> str:
        """The root certificate(s) workloads trust, as one PEM bundle (Istio's `root-cert.pem`)."""
        return "".join(certificate_pem(root) for root in self.roots)

    def _sign(
        self, csr_pem: bytes | str, identities: Sequence[str | Identity], ttl: timedelta | None
    ) -> CertChain:
        csr = _parse_csr(csr_pem)
        requested = ttl if ttl is not None else timedelta(0)
        if requested > self.max_ttl:
            raise TTLError(
                f"requested TTL {go_duration(requested)} is greater than the max allowed TTL "
                f"{go_duration(self.max_ttl)}"
            )
        lifetime = requested if requested > timedelta(0) else self.default_ttl
        uris = _identity_uris(identities)
        now = datetime.now(UTC)
        not_after = min(now + lifetime, self._chain_not_after)
        public_key = csr.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.signing_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW_GRACE_PERIOD)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            # The subject is empty, so the SAN is critical (RFC 5280 4.2.1.6), as in Istio's certificates.
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri) for uri in uris]),
                critical=True,
            )
            .add_extension(_authority_key_identifier(self.signing_cert, self._signing_key), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        try:
            leaf = builder.sign(self._signing_key, signing_hash(self._signing_key))
        except (ValueError, TypeError) as error:
            raise CertGenError(f"failed to sign the certificate: {error}") from None
        return CertChain([certificate_pem(leaf), *self._issuer_pems])


# -- helpers -------------------------------------------------------------------------------------------------


def go_duration(value: timedelta) -> str:
    """A duration as Go prints one (`24h0m0s`, `1m30s`, `1.5s`, `250ms`): Istio's messages show them so."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if micros == 0:
        return "0s"
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros < 1_000:
        return f"{sign}{micros}µs"
    if micros < 1_000_000:
        whole, fraction = divmod(micros, 1_000)
        return f"{sign}{_with_fraction(whole, fraction, 3)}ms"
    seconds, fraction = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3_600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return f"{sign}{text}{_with_fraction(seconds, fraction, 6)}s"


def _with_fraction(whole: int, fraction: int, digits: int) -> str:
    if not fraction:
        return str(whole)
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")


def _parse_csr(csr_pem: bytes | str) -> x509.CertificateSigningRequest:
    data = csr_pem.encode("ascii", "replace") if isinstance(csr_pem, str) else csr_pem
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as error:
        raise CSRError(f"failed to parse the CSR: {error}") from None
    problem = workload_key_problem(csr.public_key())
    if problem is not None:
        raise CSRError(problem)
    try:
        signature_valid = csr.is_signature_valid
    except (ValueError, TypeError) as error:
        raise CSRError(f"the CSR's signature cannot be checked: {error}") from None
    if not signature_valid:
        raise CSRError("the CSR's signature does not match its content: it was altered after it was signed")
    return csr


def _identity_uris(identities: Sequence[str | Identity]) -> list[str]:
    if not identities:
        raise CertGenError("no identity to put in the certificate: the caller has none")
    uris: list[str] = []
    for identity in identities:
        try:
            uri = identity.uri if isinstance(identity, Identity) else Identity.parse(identity).uri
        except IdentityError as error:
            raise CertGenError(str(error)) from None
        if uri not in uris:
            uris.append(uri)
    return uris


def _key_usage(
    *,
    digital_signature: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_identifier(
    issuer: x509.Certificate, issuer_key: SigningKey
) -> x509.AuthorityKeyIdentifier:
    try:
        identifier = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier)


def _root_name() -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ROOT_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, ROOT_COMMON_NAME),
        ]
    )


def _create_root_key(directory: Path) -> None:
    ensure_private_directory(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    write_atomically(directory / CA_KEY_FILE, private_key_pem(key), PRIVATE_FILE_MODE)


def _create_root_cert(directory: Path, root_ttl: timedelta) -> None:
    """A self-signed root for the key in ca-key.pem: ECDSA P-256, CA, cert sign and CRL sign."""
    key = _read_signing_key(directory / CA_KEY_FILE)
    now = datetime.now(UTC)
    name = _root_name()
    public_key = key.public_key()
    root = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + root_ttl)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, signing_hash(key))
    )
    write_atomically(directory / CA_CERT_FILE, certificate_pem(root).encode("ascii"), PUBLIC_FILE_MODE)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CAConfigError(path, "missing") from None
    except OSError as error:
        raise CAConfigError(path, f"cannot be read: {error.strerror}") from None


def _read_certificates(path: Path) -> list[x509.Certificate]:
    try:
        return load_certificates(_read_bytes(path))
    except ValueError as error:
        raise CAConfigError(path, f"not a PEM certificate file: {error}") from None


def _read_signing_key(path: Path) -> SigningKey:
    data = _read_bytes(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CAConfigError(
            path, "the key is encrypted: the CA needs it unencrypted (protect it with file mode 0600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as error:
        raise CAConfigError(path, f"not a PEM private key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CAConfigError(
            path, f"a {type(key).__name__} cannot sign certificates here: use an EC or RSA key"
        )
    return key


def _check_key_matches(
    key: SigningKey, key_path: Path, certificate: x509.Certificate, cert_path: Path
) -> None:
    if public_key_der(key.public_key()) != public_key_der(certificate.public_key()):
        raise CAConfigError(
            key_path,
            f"the key ({describe_key(key.public_key())}) does not match the certificate in {cert_path.name} "
            f"({describe(certificate)}, {describe_key(certificate.public_key())})",
        )


def _check_signing_cert(certificate: x509.Certificate, path: Path, now: datetime, fix: str) -> None:
    if not can_sign_certificates(certificate):
        raise CAConfigError(
            path,
            f"the certificate ({describe(certificate)}) is not a CA: it needs basic constraints CA:TRUE and, "
            f"if it has a key usage, certificate signing; {fix}",
        )
    problem = validity_problem(certificate, now)
    if problem is not None:
        raise CAConfigError(path, f"{problem}; {fix}")


def _check_in_date(certificate: x509.Certificate, path: Path, now: datetime) -> None:
    problem = validity_problem(certificate, now)
    if problem is not None:
        raise CAConfigError(path, problem)
