"""meshd's own serving certificate: signed by the mesh's CA, for the names clients reach meshd by.

Proxies verify it with the root bundle before they have a certificate of their own, and meshctl with
`root-cert.pem`. It is reissued when names are added, when the CA changed, or a month before it expires.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..ca import CertificateAuthority
from ..ca.authority import CA_KEY_FILE
from ..ca.files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, ensure_private_directory, write_atomically
from ..ca.pki import certificate_pem, private_key_pem, signing_hash

LIFETIME = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
#: The name istiod is reached by in Kubernetes; kept so the same clients work in both places.
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1", "istiod.istio-system.svc")
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"


class ServingCertError(Exception):
    pass


def serving_names(extra: Iterable[str] = (), listen_address: str = "") -> list[str]:
    """Every name and address meshd may be reached by: loopback, this host's names, and the flags'."""
    names = list(DEFAULT_NAMES)
    for name in (socket.gethostname(), socket.getfqdn(), listen_address, *extra):
        if name and name not in ("0.0.0.0", "::") and name not in names:
            names.append(name)
    return names


def ensure_serving_certificate(
    directory: Path, ca: CertificateAuthority, ca_dir: Path, names: Sequence[str]
) -> tuple[Path, Path]:
    """The serving certificate chain and key in `directory`, issued or reissued if needed."""
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    if not _still_good(cert_path, key_path, ca, names):
        _issue(cert_path, key_path, ca, ca_dir / CA_KEY_FILE, names)
    return cert_path, key_path


def _still_good(cert_path: Path, key_path: Path, ca: CertificateAuthority, names: Sequence[str]) -> bool:
    if not cert_path.exists() or not key_path.exists():
        return False
    try:
        leaf = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
        leaf.verify_directly_issued_by(ca.signing_cert)
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound, OSError):
        return False
    present = {str(v) for v in sans.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    wanted = {str(ipaddress.ip_address(n)) if _is_ip(n) else n for n in names}
    fresh = leaf.not_valid_after_utc - datetime.now(UTC) > RENEW_BEFORE
    return wanted <= present and fresh


def _issue(
    cert_path: Path, key_path: Path, ca: CertificateAuthority, signing_key_path: Path, names: Sequence[str]
) -> None:
    signing_key = _signing_key(signing_key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    chain_end = min(c.not_valid_after_utc for c in ca.issuer_path)
    alt_names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(n)) if _is_ip(n) else x509.DNSName(n) for n in names
    ]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshd")]))
        .issuer_name(ca.signing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=2))
        .not_valid_after(min(now + LIFETIME, chain_end))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(signing_key, signing_hash(signing_key))
    )
    # The chain up to (not including) the root: clients hold the root.
    chain = [leaf, *ca.issuer_path[:-1]]
    ensure_private_directory(cert_path.parent)
    write_atomically(key_path, private_key_pem(key), PRIVATE_FILE_MODE)
    write_atomically(cert_path, "".join(certificate_pem(c) for c in chain).encode("ascii"), PUBLIC_FILE_MODE)


def _signing_key(path: Path) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ServingCertError(
            f"{path}: cannot read the CA's key to sign meshd's serving certificate: {exc}"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ServingCertError(f"{path}: the CA's key is not an EC or RSA key")
    return key


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
