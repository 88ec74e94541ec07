"""Bootstrap tokens: what a workload presents for its first certificate, bound to the identities it may get.

A token is random (`secrets.token_urlsafe`) and shown once, when it is issued; the store file keeps only its
SHA-256, so reading the file gives nobody a usable token. Each token allows a list of patterns: `ns/sa`
(exactly that service account) or `ns/*` (any service account in the namespace), in the mesh's trust domain.

A token made elsewhere (an Ansible controller, say) is registered with `register`: run again with the same
token, it changes nothing, so configuration tools can state "this token allows these identities".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from .files import PRIVATE_FILE_MODE, ensure_private_directory, write_atomically
from .identity import (
    DEFAULT_TRUST_DOMAIN,
    Identity,
    IdentityError,
    validate_namespace,
    validate_service_account,
)

#: Random bytes in a token (token_urlsafe makes 43 characters of them).
TOKEN_BYTES = 32
STORE_VERSION = 1
ANY_SERVICE_ACCOUNT = "*"
#: A registered token's fewest characters: 22 URL-safe base64 letters carry 128 random bits.
MIN_TOKEN_LENGTH = 22
_TOKEN_LETTERS = re.compile(r"[A-Za-z0-9_-]+")

#: What `register` did: a new grant, the same grant as before, or the grant's identities/description changed.
Registration = Literal["created", "unchanged", "configured"]


class TokenStoreError(Exception):
    """The token store file cannot be read or written; the message starts with its path."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class PatternError(ValueError):
    """An identity pattern that is not `<namespace>/<service account>` or `<namespace>/*`."""


class TokenFormatError(ValueError):
    """A token given to `register` that is too short or not URL-safe base64; the message never quotes it."""


@dataclass(frozen=True, slots=True)
class IdentityPattern:
    """The identities a token allows: one service account, or every one in a namespace (`*`)."""

    namespace: str
    service_account: str

    @classmethod
    def parse(cls, text: str) -> IdentityPattern:
        parts = text.split("/")
        if len(parts) != 2:
            raise PatternError(
                f"identity pattern {text!r} is not <namespace>/<service account> or <namespace>/*"
            )
        namespace, service_account = parts
        try:
            validate_namespace(namespace)
            if service_account != ANY_SERVICE_ACCOUNT:
                validate_service_account(service_account)
        except IdentityError as error:
            raise PatternError(f"identity pattern {text!r}: {error}") from None
        return cls(namespace, service_account)

    def matches(self, identity: Identity) -> bool:
        return identity.namespace == self.namespace and self.service_account in (
            ANY_SERVICE_ACCOUNT,
            identity.service_account,
        )

    def __str__(self) -> str:
        return f"{self.namespace}/{self.service_account}"


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the store knows about a token: never the token itself, only its SHA-256."""

    token_id: str
    token_sha256: str
    patterns: tuple[IdentityPattern, ...]
    created_at: datetime
    expires_at: datetime | None = None
    description: str = ""

    def allows(self, identity: Identity) -> IdentityPattern | None:
        return next((pattern for pattern in self.patterns if pattern.matches(identity)), None)

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token (the secret, to hand to the workload once) and its grant."""

    token: str
    grant: TokenGrant


@dataclass(frozen=True, slots=True)
class Authorization:
    """The answer to "may this token get this identity?": allowed, and why (or why not)."""

    allowed: bool
    reason: str
    token_id: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_token_format(token: str) -> None:
    """TokenFormatError unless `token` is at least MIN_TOKEN_LENGTH URL-safe base64 letters."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenFormatError(
            f"a bootstrap token needs at least {MIN_TOKEN_LENGTH} characters, this one has {len(token)} "
            "(generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if not _TOKEN_LETTERS.fullmatch(token):
        raise TokenFormatError(
            "a bootstrap token may only hold URL-safe base64 letters (A-Z, a-z, 0-9, '-' and '_')"
        )


def _parse_patterns(patterns: Sequence[str]) -> tuple[IdentityPattern, ...]:
    """The patterns parsed, duplicates dropped, in the order given; PatternError for a bad or empty list."""
    parsed: list[IdentityPattern] = []
    for text in patterns:
        pattern = IdentityPattern.parse(text)
        if pattern not in parsed:
            parsed.append(pattern)
    if not parsed:
        raise PatternError("a bootstrap token needs at least one identity pattern (<namespace>/<sa> or ns/*)")
    return tuple(parsed)


class BootstrapTokens:
    """The token store at `path` (JSON, mode 0600, written atomically; created by the first `issue`).

    The file is read again when another process has replaced it, so tokens issued elsewhere are honoured.
    """

    def __init__(self, path: Path | str, trust_domain: str = DEFAULT_TRUST_DOMAIN) -> None:
        self.path = Path(path)
        self.trust_domain = trust_domain
        self._grants: list[TokenGrant] = []
        self._file_signature: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        with self._lock:
            self._reload_if_changed()

    def issue(
        self,
        patterns: Sequence[str],
        *,
        ttl: timedelta | None = None,
        description: str = "",
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> IssuedToken:
        """A new token allowed the identities matching `patterns`; it expires after `ttl` (None: never).

        With `dry_run` the patterns and TTL are checked and nothing is stored: the token is "" and the grant
        is what would have been stored.
        """
        parsed = _parse_patterns(patterns)
        if ttl is not None and ttl <= timedelta(0):
            raise ValueError(f"a bootstrap token's TTL must be positive, not {ttl}")
        created = (now or datetime.now(UTC)).replace(microsecond=0)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._lock:
            self._reload_if_changed()
            grant = TokenGrant(
                token_id=self._new_token_id(),
                token_sha256=token_digest(token),
                patterns=parsed,
                created_at=created,
                expires_at=created + ttl if ttl is not None else None,
                description=description,
            )
            if dry_run:
                return IssuedToken("", grant)
            self._save([*self._grants, grant])
        return IssuedToken(token, grant)

    def register(
        self,
        token: str,
        patterns: Sequence[str],
        *,
        ttl: timedelta | None = None,
        description: str = "",
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> tuple[Registration, TokenGrant]:
        """Make `token` (generated elsewhere) allow exactly `patterns`; idempotent.

        A token the store does not know gets a new grant (`created`). A known one keeps its id and creation
        time: when its identities and description are already these (and `ttl`, if given, already ends
        it), the file is left alone (`unchanged`); otherwise they are replaced (`configured`). A TTL counts
        from the grant's creation, so the same TTL given again changes nothing; None keeps the expiry.
        With `dry_run` the answer is the same and nothing is stored.
        """
        check_token_format(token)
        parsed = _parse_patterns(patterns)
        if ttl is not None and ttl <= timedelta(0):
            raise ValueError(f"a bootstrap token's TTL must be positive, not {ttl}")
        with self._lock:
            self._reload_if_changed()
            existing = self._find(token)
            if existing is None:
                created = (now or datetime.now(UTC)).replace(microsecond=0)
                grant = TokenGrant(
                    token_id=self._new_token_id(),
                    token_sha256=token_digest(token),
                    patterns=parsed,
                    created_at=created,
                    expires_at=_whole_seconds(created + ttl) if ttl is not None else None,
                    description=description,
                )
                if not dry_run:
                    self._save([*self._grants, grant])
                return "created", grant
            expires = _whole_seconds(existing.created_at + ttl) if ttl is not None else existing.expires_at
            wanted = replace(existing, patterns=parsed, description=description, expires_at=expires)
            if wanted == existing:
                return "unchanged", existing
            if not dry_run:
                self._save([wanted if grant is existing else grant for grant in self._grants])
            return "configured", wanted

    def revoke(self, token_id: str, dry_run: bool = False) -> bool:
        """Forget the token with this id (with `dry_run`, only look it up); False when there is none."""
        with self._lock:
            self._reload_if_changed()
            kept = [grant for grant in self._grants if grant.token_id != token_id]
            if len(kept) == len(self._grants):
                return False
            if not dry_run:
                self._save(kept)
            return True

    def grant_of(self, token: str) -> TokenGrant | None:
        """The grant of `token` (compared by its hash), None when the store has none."""
        with self._lock:
            self._reload_if_changed()
            return self._find(token)

    def grants(self) -> list[TokenGrant]:
        with self._lock:
            self._reload_if_changed()
            return list(self._grants)

    def authorize(
        self, token: str, requested_identity: Identity | str, now: datetime | None = None
    ) -> Authorization:
        """May the holder of `token` get a certificate for `requested_identity` (a SPIFFE URI)?"""
        with self._lock:
            self._reload_if_changed()
            grant = self._find(token)
        if grant is None:
            return Authorization(False, "unknown bootstrap token")
        expires = grant.expires_at
        if expires is not None and (now or datetime.now(UTC)) >= expires:
            return Authorization(
                False, f"bootstrap token {grant.token_id} expired at {_iso(expires)}", grant.token_id
            )
        try:
            identity = (
                requested_identity
                if isinstance(requested_identity, Identity)
                else Identity.parse(requested_identity)
            )
        except IdentityError as error:
            return Authorization(False, str(error), grant.token_id)
        if identity.trust_domain != self.trust_domain:
            return Authorization(
                False,
                f"identity {identity} is in trust domain {identity.trust_domain!r}; this mesh's trust domain "
                f"is {self.trust_domain!r}",
                grant.token_id,
            )
        pattern = grant.allows(identity)
        if pattern is None:
            allowed = ", ".join(str(p) for p in grant.patterns)
            return Authorization(
                False,
                f"bootstrap token {grant.token_id} does not allow {identity}: it allows {allowed}",
                grant.token_id,
            )
        return Authorization(True, f"bootstrap token {grant.token_id} allows {pattern}", grant.token_id)

    def _find(self, token: str) -> TokenGrant | None:
        """The grant whose hash is the token's; every hash is compared, in constant time."""
        digest = token_digest(token)
        found: TokenGrant | None = None
        for grant in self._grants:
            if hmac.compare_digest(digest, grant.token_sha256):
                found = grant
        return found

    def _new_token_id(self) -> str:
        taken = {grant.token_id for grant in self._grants}
        while True:
            token_id = secrets.token_hex(4)
            if token_id not in taken:
                return token_id

    # -- the file ------------------------------------------------------------------------------------------

    def _reload_if_changed(self) -> None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._grants, self._file_signature = [], None
            return
        except OSError as error:
            raise TokenStoreError(self.path, f"cannot be read: {error.strerror}") from None
        signature = (status.st_ino, status.st_mtime_ns, status.st_size)
        if signature != self._file_signature:
            self._grants = self._read()
            self._file_signature = signature

    def _read(self) -> list[TokenGrant]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise TokenStoreError(self.path, f"cannot be read: {error.strerror}") from None
        except UnicodeDecodeError:
            raise TokenStoreError(self.path, "not a UTF-8 text file") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise TokenStoreError(
                self.path, f"not valid JSON (line {error.lineno} column {error.colno}: {error.msg})"
            ) from None
        return _grants_from_document(self.path, document)

    def _save(self, grants: list[TokenGrant]) -> None:
        document = {"version": STORE_VERSION, "tokens": [_grant_to_json(grant) for grant in grants]}
        data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
        try:
            ensure_private_directory(self.path.parent)
            write_atomically(self.path, data, PRIVATE_FILE_MODE)
            status = self.path.stat()
        except OSError as error:
            raise TokenStoreError(self.path, f"cannot be written: {error.strerror}") from None
        self._grants = grants
        self._file_signature = (status.st_ino, status.st_mtime_ns, status.st_size)


def _grant_to_json(grant: TokenGrant) -> dict[str, Any]:
    return {
        "id": grant.token_id,
        "sha256": grant.token_sha256,
        "identities": [str(pattern) for pattern in grant.patterns],
        "created": _iso(grant.created_at),
        "expires": _iso(grant.expires_at) if grant.expires_at is not None else None,
        "description": grant.description,
    }


def _grants_from_document(path: Path, document: Any) -> list[TokenGrant]:
    if not isinstance(document, Mapping):
        raise TokenStoreError(path, "expected a JSON object with `version` and `tokens`")
    if document.get("version") != STORE_VERSION:
        raise TokenStoreError(path, f"version: expected {STORE_VERSION}, found {document.get('version')!r}")
    entries = document.get("tokens")
    if not isinstance(entries, list):
        raise TokenStoreError(path, "tokens: expected a list")
    return [_grant_from_json(path, f"tokens[{index}]", entry) for index, entry in enumerate(entries)]


def _grant_from_json(path: Path, where: str, entry: Any) -> TokenGrant:
    if not isinstance(entry, Mapping):
        raise TokenStoreError(path, f"{where}: expected an object")

    def text(key: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or (key != "description" and not value):
            raise TokenStoreError(path, f"{where}.{key}: expected a non-empty string")
        return value

    digest = text("sha256")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise TokenStoreError(path, f"{where}.sha256: expected 64 lowercase hex digits")
    identities = entry.get("identities")
    if not isinstance(identities, list) or not identities:
        raise TokenStoreError(path, f"{where}.identities: expected a non-empty list of patterns")
    patterns: list[IdentityPattern] = []
    for index, pattern in enumerate(identities):
        try:
            patterns.append(IdentityPattern.parse(str(pattern)))
        except PatternError as error:
            raise TokenStoreError(path, f"{where}.identities[{index}]: {error}") from None
    expires = entry.get("expires")
    return TokenGrant(
        token_id=text("id"),
        token_sha256=digest,
        patterns=tuple(patterns),
        created_at=_parse_time(path, f"{where}.created", text("created")),
        expires_at=_parse_time(path, f"{where}.expires", expires) if expires is not None else None,
        description=entry.get("description") or "",
    )


def _parse_time(path: Path, where: str, value: Any) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    raise TokenStoreError(path, f"{where}: expected an ISO 8601 time such as 2025-01-31T12:00:00Z")


def _whole_seconds(moment: datetime) -> datetime:
    """The store keeps times to the second: a grant compared with the file's must be too."""
    return moment.replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
