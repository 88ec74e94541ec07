"""meshctl's connection to meshd's config API: where it is, which token to send, how to trust it (the client
itself is `configapi.client`).

--control-plane HOST[:PORT]  $MESHCTL_CONTROL_PLANE, else 127.0.0.1; the config API port is 15080
--token TOKEN                $MESHCTL_TOKEN, else <data dir>/admin-token when readable
--ca-file FILE               <data dir>/root-cert.pem
--data-dir DIR               $MESHD_DATA_DIR, else /var/lib/meshd
"""

from __future__ import annotations

import argparse
import os
import ssl
from pathlib import Path

from ..command.errors import EXIT_ERROR, EXIT_USAGE, CommandError
from ..configapi.client import ADMIN_TOKEN_FILE, API_PORT, ROOT_CERT_FILE, ApiClient
from .controlplane import ENV_ADDRESS, address

ENV_TOKEN = "MESHCTL_TOKEN"
ENV_DATA_DIR = "MESHD_DATA_DIR"
DEFAULT_DATA_DIR = "/var/lib/meshd"


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
