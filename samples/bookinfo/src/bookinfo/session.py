"""productpage's session: who is signed in, kept in a signed cookie as Flask keeps it.

The cookie is `session=<payload>.<signature>`: the payload is base64url JSON, the signature an HMAC-SHA256
of it. The key comes from `BOOKINFO_SESSION_KEY` (so several productpage replicas accept each other's
cookies) or is drawn at random when the process starts. A cookie that does not verify is an empty session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

COOKIE_NAME = "session"
KEY_VARIABLE = "BOOKINFO_SESSION_KEY"
_EXPIRED = "Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"


class SessionCookies:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SessionCookies:
        configured = env.get(KEY_VARIABLE)
        return cls(configured.encode("utf-8") if configured else secrets.token_bytes(32))

    def user(self, cookie_header: str | None) -> str | None:
        """The signed-in user named by the request's cookies, if any."""
        token = cookie_value(cookie_header, COOKIE_NAME)
        if not token:
            return None
        session = self._verified(token)
        user = session.get("user") if session else None
        return user if isinstance(user, str) else None

    def sign_in(self, user: str) -> str:
        """The Set-Cookie value that signs `user` in."""
        return f"{COOKIE_NAME}={self._sign({'user': user})}; HttpOnly; Path=/; SameSite=Lax"

    def sign_out(self) -> str:
        """The Set-Cookie value that ends the session."""
        return f"{COOKIE_NAME}=; {_EXPIRED}; HttpOnly; Path=/; SameSite=Lax"

    def _sign(self, session: dict[str, str]) -> str:
        payload = _encode(json.dumps(session, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._signature(payload)}"

    def _signature(self, payload: str) -> str:
        return _encode(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def _verified(self, token: str) -> dict[str, object] | None:
        payload, _, signature = token.partition(".")
        if not (payload.isascii() and signature.isascii()):
            return None
        if not hmac.compare_digest(signature, self._signature(payload)):
            return None
        try:
            session = json.loads(_decode(payload))
        except (ValueError, binascii.Error):
            return None
        return session if isinstance(session, dict) else None


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header (the first one, as browsers send the most specific)."""
    if not header:
        return None
    for pair in header.split(";"):
        key, separator, value = pair.strip().partition("=")
        if separator and key == name:
            return value.strip().strip('"')
    return None


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
