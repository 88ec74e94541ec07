"""SSL contexts, built once and reloaded in place when the workload certificate rotates.

A context is expensive to build (OpenSSL 3 parses the trust store each time), so there is one mTLS server
context and one mTLS client context per process; a rotation loads the new chain into both, and new
handshakes use it from then on. Gateway credentials (SIMPLE/MUTUAL) and DestinationRule client certificates
are cached by their file paths. The peer's SPIFFE identity is read once per connection.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_runtime import xds

KEY_FILE = "key.pem"
CERT_CHAIN_FILE = "cert-chain.pem"
ROOT_CERT_FILE = "root-cert.pem"


class TlsConfigError(ValueError):
    """Credentials that cannot be loaded; the message names the file."""


@dataclass(frozen=True, slots=True)
class CredentialFiles:
    """Where the workload's key, chain and trust bundle are (Istio's agent file names)."""

    key: Path
    cert_chain: Path
    root: Path

    @classmethod
    def in_directory(cls, directory: Path, root: Path | None = None) -> CredentialFiles:
        return cls(directory / KEY_FILE, directory / CERT_CHAIN_FILE, root or directory / ROOT_CERT_FILE)

    def present(self) -> bool:
        return self.key.is_file() and self.cert_chain.is_file() and self.root.is_file()


def _base_context(purpose: ssl.Purpose) -> ssl.SSLContext:
    context = ssl.SSLContext(
        ssl.PROTOCOL_TLS_SERVER if purpose is ssl.Purpose.CLIENT_AUTH else ssl.PROTOCOL_TLS_CLIENT
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    return context


class WorkloadTls:
    """The mesh's mTLS contexts for this workload's identity: one for serving, one for connecting."""

    def __init__(self) -> None:
        self.server = _base_context(ssl.Purpose.CLIENT_AUTH)
        self.server.verify_mode = ssl.CERT_REQUIRED
        self.client = _base_context(ssl.Purpose.SERVER_AUTH)
        # Peers are checked by SPIFFE identity (URI SAN), not by host name.
        self.client.check_hostname = False
        self.client.verify_mode = ssl.CERT_REQUIRED
        self.identity = ""
        self.generation = 0
        self._roots: set[bytes] = set()

    @property
    def ready(self) -> bool:
        return self.generation > 0

    def load(self, files: CredentialFiles, identity: str) -> None:
        """Load (or reload after a rotation) the chain, key and trust bundle into both contexts."""
        try:
            root = files.root.read_bytes()
            if root not in self._roots:
                for context in (self.server, self.client):
                    context.load_verify_locations(cadata=root.decode("ascii"))
                self._roots.add(root)
            for context in (self.server, self.client):
                context.load_cert_chain(str(files.cert_chain), str(files.key))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise TlsConfigError(
                f"cannot load the workload credentials ({files.cert_chain}, {files.key}, {files.root}): {exc}"
            ) from None
        self.identity = identity
        self.generation += 1


class FileContexts:
    """Contexts built from credential files named in config (gateway servers, DestinationRule TLS)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], ssl.SSLContext] = {}

    def server(self, settings: xds.TlsSettings, where: str) -> ssl.SSLContext:
        """A gateway server context: SIMPLE (cert and key) or MUTUAL (and client CA)."""
        key = (
            "server",
            settings.mode,
            settings.client_certificate,
            settings.private_key,
            settings.ca_certificates,
        )
        if key not in self._cache:
            context = _base_context(ssl.Purpose.CLIENT_AUTH)
            self._load(context, settings, where, client=False)
            self._cache[key] = context
        return self._cache[key]

    def client(self, settings: xds.TlsSettings, where: str) -> ssl.SSLContext:
        """A DestinationRule SIMPLE/MUTUAL client context."""
        key = (
            "client",
            settings.mode,
            settings.client_certificate,
            settings.private_key,
            settings.ca_certificates,
            settings.insecure_skip_verify,
        )
        if key not in self._cache:
            context = _base_context(ssl.Purpose.SERVER_AUTH)
            context.check_hostname = False
            if settings.insecure_skip_verify or not settings.ca_certificates:
                context.verify_mode = ssl.CERT_NONE if settings.insecure_skip_verify else ssl.CERT_REQUIRED
            self._load(context, settings, where, client=True)
            if context.verify_mode != ssl.CERT_NONE and not settings.ca_certificates:
                context.load_default_certs()
            self._cache[key] = context
        return self._cache[key]

    @staticmethod
    def _load(context: ssl.SSLContext, settings: xds.TlsSettings, where: str, *, client: bool) -> None:
        try:
            if settings.client_certificate:
                context.load_cert_chain(settings.client_certificate, settings.private_key or None)
            elif not client:
                raise TlsConfigError(f"{where}: a TLS server needs a certificate and a private key")
            if settings.ca_certificates:
                context.load_verify_locations(settings.ca_certificates)
                if not client and settings.mode == "MUTUAL":
                    context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(f"{where}: cannot load TLS credentials: {exc}") from None


def peer_sans(ssl_object: Any, kinds: tuple[str, ...] = ("URI",)) -> tuple[str, ...]:
    """The SANs of the verified peer certificate of a connection: URIs (its SPIFFE identity) by default."""
    if ssl_object is None:
        return ()
    certificate = ssl_object.getpeercert()
    if not certificate:
        return ()
    return tuple(value for kind, value in certificate.get("subjectAltName", ()) if kind in kinds)


def peer_certificate_hash(ssl_object: Any) -> str:
    """SHA-256 of the peer certificate (DER), hex: the `Hash=` of x-forwarded-client-cert."""
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return hashlib.sha256(der).hexdigest() if der else ""


def forwarded_client_cert(own_identity: str, peer_identity: str, peer_hash: str) -> bytes:
    """The x-forwarded-client-cert line an Istio sidecar's inbound listener sets for an mTLS peer."""
    return (
        f'x-forwarded-client-cert: By={own_identity};Hash={peer_hash};Subject="";URI={peer_identity}\r\n'
    ).encode()


def looks_like_tls(first_bytes: bytes) -> bool:
    """A TLS record carrying a handshake (ClientHello) starts with 0x16 0x03."""
    return len(first_bytes) >= 2 and first_bytes[0] == 0x16 and first_bytes[1] == 0x03
