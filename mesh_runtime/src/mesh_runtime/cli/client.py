"""meshctl's client of meshd's config API (HTTPS, admin token): where it is, how to trust it, how to ask.

--control-plane HOST[:PORT]  $MESHCTL_CONTROL_PLANE, else 127.0.0.1; the config API port is 15080
--token TOKEN                $MESHCTL_TOKEN, else <data dir>/admin-token when readable
--ca-file FILE               <data dir>/root-cert.pem
--data-dir DIR               $MESHD_DATA_DIR, else /var/lib/meshd
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from .controlplane import ENV_ADDRESS, address
from .errors import EXIT_ERROR, EXIT_USAGE, CommandError

API_PORT = 15080
ENV_TOKEN = "MESHCTL_TOKEN"
ENV_DATA_DIR = "MESHD_DATA_DIR"
DEFAULT_DATA_DIR = "/var/lib/meshd"
ADMIN_TOKEN_FILE = "admin-token"
ROOT_CERT_FILE = "root-cert.pem"
TIMEOUT = 30.0


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("control plane")
    group.add_argument(
        "--control-plane",
        default=None,
        metavar="HOST[:PORT]",
        help=f"meshd's config API (default ${ENV_ADDRESS} or 127.0.0.1; port {API_PORT})",
    )
    group.add_argument(
        "--token", default=None, help=f"the admin token (default ${ENV_TOKEN} or <data dir>/admin-token)"
    )
    group.add_argument(
        "--ca-file", default=None, help="the root certificate to verify meshd by (<data dir>/root-cert.pem)"
    )
    group.add_argument(
        "--data-dir",
        default=None,
        help=f"meshd's data directory (default ${ENV_DATA_DIR} or {DEFAULT_DATA_DIR})",
    )


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


def connect(args: argparse.Namespace) -> ApiClient:
    host, port = _address(getattr(args, "control_plane", None))
    data_dir = Path(getattr(args, "data_dir", None) or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR)
    token = _token(getattr(args, "token", None), data_dir)
    ca_file = Path(getattr(args, "ca_file", None) or data_dir / ROOT_CERT_FILE)
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
    except FileNotFoundError as exc:
        raise CommandError(
            f"{ca_file}: no such file: meshctl verifies meshd with its root certificate; "
            "pass --ca-file or --data-dir"
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        raise CommandError(f"{ca_file}: cannot be read as a PEM root certificate: {exc}") from exc
    return ApiClient(host, port, token, context)


def _address(flag: str | None) -> tuple[str, int]:
    text = address(flag)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not port_text:
        return host, API_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise CommandError(f"--control-plane: {text!r} is not HOST[:PORT]", EXIT_USAGE)
    return host, int(port_text)


def _token(flag: str | None, data_dir: Path) -> str:
    token = flag or os.environ.get(ENV_TOKEN)
    if token:
        return token
    path = data_dir / ADMIN_TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    except OSError as exc:
        raise CommandError(
            f"{path}: cannot be read ({exc.strerror}): pass --token or set ${ENV_TOKEN}", EXIT_ERROR
        ) from exc
    if not token:
        raise CommandError(
            f"no admin token: pass --token, set ${ENV_TOKEN}, or point --data-dir at meshd's data directory"
        )
    return token


def check(response: ApiResponse) -> Any:
    """The body of a successful response; CommandError with meshd's message otherwise."""
    if not response.ok:
        raise CommandError(response.error)
    return response.body
