"""Where meshctl finds the control plane (meshd), and reading its monitoring endpoints."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

DEFAULT_ADDRESS = "127.0.0.1"
MONITORING_PORT = 15014
ENV_ADDRESS = "MESHCTL_CONTROL_PLANE"


class ControlPlaneUnavailable(Exception):
    """No control plane answered; the message says where meshctl looked."""


def address(flag_value: str | None) -> str:
    return flag_value or os.environ.get(ENV_ADDRESS) or DEFAULT_ADDRESS


def monitoring_url(host: str, path: str) -> str:
    if ":" in host.rsplit("]", 1)[-1]:
        return f"http://{host}{path}"
    return f"http://{host}:{MONITORING_PORT}{path}"


def get_json(host: str, path: str, timeout: float = 2.0) -> Any:
    url = monitoring_url(host, path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http only, by design)
            return json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ControlPlaneUnavailable(f"no control plane (meshd) answered at {url}: {reason}") from exc
