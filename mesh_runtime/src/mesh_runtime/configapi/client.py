"""The config API's client: one HTTPS request at a time to meshd's config API with the admin token, its
answer as an `ApiResponse`, and `check` for the body of a successful one. Failures a user can fix (meshd
unreachable, not trusted, the token refused) are `CommandError`s that say what to check."""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from ..command.errors import CommandError

API_PORT = 15080
ADMIN_TOKEN_FILE = "admin-token"
ROOT_CERT_FILE = "root-cert.pem"
TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), str):
            return str(self.body["error"])
        return f"meshd answered {self.status}"


class ApiClient:
    def __init__(self, host: str, port: int, token: str, context: ssl.SSLContext) -> None:
        self.host = host
        self.port = port
        self._token = token
        self._context = context

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def request(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> ApiResponse:
        """One request; CommandError when meshd cannot be reached, trusted, or refuses the token."""
        target = quote(path) + (f"?{urlencode(query)}" if query else "")
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPSConnection(self.host, self.port, timeout=TIMEOUT, context=self._context)
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except ssl.SSLCertVerificationError as exc:
            raise CommandError(
                f"meshd at {self.url} is not trusted: {exc.verify_message}; "
                "check --ca-file (meshd's root-cert.pem)"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            reason = (
                exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            )
            raise CommandError(f"no control plane (meshd) answered at {self.url}: {reason}") from exc
        finally:
            connection.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = {"error": raw.decode("utf-8", "replace")}
        if response.status == 401:
            message = data.get("error") if isinstance(data, dict) else ""
            raise CommandError(f"meshd refused the admin token: {message}; check --token or $MESHCTL_TOKEN")
        return ApiResponse(response.status, data)


def check(response: ApiResponse) -> Any:
    """The body of a successful response; CommandError with meshd's message otherwise."""
    if not response.ok:
        raise CommandError(response.error)
    return response.body
