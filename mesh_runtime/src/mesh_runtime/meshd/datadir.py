"""meshd's data directory: everything that makes it come back as it was after a restart.

```
<data dir>/
  mesh.json              the trust domain (fixed at the first start)
  store.db               the config store (SQLite, WAL)
  ca/                    the CA (self-signed root) unless --ca-dir names a plugged-in one
  root-cert.pem          the trust bundle, for proxies and meshctl (readable by all)
  admin-token            the config API's token (0600)
  bootstrap-tokens.json  bootstrap tokens for workloads (hashes only, 0600)
  serving/               meshd's serving certificate and key
  workloads.json         the proxies' workloads as last known, restored on start (0600, rewritten by meshd)
  revisions/<rev>/       a follower's (meshd serve --revision <rev> --follow ...) own store.db and
                         workloads.json; everything else it shares with the primary
```

`initialize` creates what is missing and leaves the rest alone, so running it again changes nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..ca import CAError, CAMetrics, CertificateAuthority, IdentityError
from ..ca.files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, write_atomically
from ..ca.identity import DEFAULT_TRUST_DOMAIN, validate_trust_domain
from .serving import ServingCertError, ensure_serving_certificate

SETTINGS_FILE = "mesh.json"
STORE_FILE = "store.db"
CA_DIRECTORY = "ca"
ROOT_CERT_FILE = "root-cert.pem"
ADMIN_TOKEN_FILE = "admin-token"
BOOTSTRAP_TOKENS_FILE = "bootstrap-tokens.json"
SERVING_DIRECTORY = "serving"
WORKLOADS_FILE = "workloads.json"
REVISIONS_DIRECTORY = "revisions"
DEFAULT_DATA_DIR = "/var/lib/meshd"


class DataDirError(Exception):
    """The data directory cannot be set up or read; the message says which file and what to do."""


@dataclass(frozen=True, slots=True)
class DataDir:
    root: Path

    @property
    def settings(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def store(self) -> Path:
        return self.root / STORE_FILE

    @property
    def ca(self) -> Path:
        return self.root / CA_DIRECTORY

    @property
    def root_cert(self) -> Path:
        return self.root / ROOT_CERT_FILE

    @property
    def admin_token(self) -> Path:
        return self.root / ADMIN_TOKEN_FILE

    @property
    def bootstrap_tokens(self) -> Path:
        return self.root / BOOTSTRAP_TOKENS_FILE

    @property
    def serving(self) -> Path:
        return self.root / SERVING_DIRECTORY

    @property
    def workloads(self) -> Path:
        return self.root / WORKLOADS_FILE

    def revision_store(self, revision: str) -> Path:
        """A follower's mirror of the primary's store (its directory is created)."""
        return self._revision_dir(revision) / STORE_FILE

    def revision_workloads(self, revision: str) -> Path:
        return self._revision_dir(revision) / WORKLOADS_FILE

    def _revision_dir(self, revision: str) -> Path:
        directory = self.root / REVISIONS_DIRECTORY / revision
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(
                f"{directory}: cannot create the revision's directory: {exc.strerror}"
            ) from exc
        return directory


@dataclass(frozen=True, slots=True)
class Initialized:
    data_dir: DataDir
    trust_domain: str
    ca: CertificateAuthority
    ca_dir: Path
    serving_cert: Path
    serving_key: Path
    admin_token: str


def initialize(
    root: Path,
    *,
    trust_domain: str | None = None,
    ca_dir: Path | None = None,
    names: Sequence[str] = (),
    metrics: CAMetrics | None = None,
) -> Initialized:
    """Create (or check) the data directory; raises DataDirError."""
    data_dir = DataDir(root)
    try:
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"{root}: cannot create the data directory: {exc.strerror or exc}") from exc
    domain = _trust_domain(data_dir, trust_domain)
    signing_dir = ca_dir or data_dir.ca
    try:
        if ca_dir is not None:
            ca = CertificateAuthority.load_plugged_in(ca_dir, metrics=metrics)
        else:
            ca = CertificateAuthority.load_or_create(data_dir.ca, metrics=metrics)
        _write_if_changed(data_dir.root_cert, ca.trust_bundle().encode("ascii"), PUBLIC_FILE_MODE)
        token = _admin_token(data_dir.admin_token)
        cert, key = ensure_serving_certificate(data_dir.serving, ca, signing_dir, names)
    except (CAError, ServingCertError) as exc:
        raise DataDirError(str(exc)) from exc
    except OSError as exc:
        raise DataDirError(f"{exc.filename or root}: {exc.strerror or exc}") from exc
    return Initialized(data_dir, domain, ca, signing_dir, cert, key, token)


def _trust_domain(data_dir: DataDir, requested: str | None) -> str:
    stored: str | None = None
    if data_dir.settings.exists():
        try:
            stored = json.loads(data_dir.settings.read_text())["trustDomain"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataDirError(f"{data_dir.settings}: unreadable ({exc}); restore it or remove it") from exc
    if stored is not None and requested is not None and requested != stored:
        raise DataDirError(
            f"{data_dir.root} belongs to trust domain {stored!r}, not {requested!r}: every certificate names "
            "its trust domain; use another data directory for another trust domain"
        )
    domain = stored or requested or DEFAULT_TRUST_DOMAIN
    try:
        validate_trust_domain(domain)
    except IdentityError as exc:
        raise DataDirError(f"--trust-domain: {exc}") from exc
    if stored is None:
        write_atomically(
            data_dir.settings, (json.dumps({"trustDomain": domain}) + "\n").encode(), PUBLIC_FILE_MODE
        )
    return domain


def _admin_token(path: Path) -> str:
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    write_atomically(path, (token + "\n").encode(), PRIVATE_FILE_MODE)
    return token


def _write_if_changed(path: Path, data: bytes, mode: int) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    write_atomically(path, data, mode)


def read_trust_domain(root: Path) -> str:
    """The trust domain of an initialised data directory (for `meshd token create`)."""
    return _trust_domain(DataDir(root), None)
