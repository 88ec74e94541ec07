"""Calls from one Bookinfo service to another.

Calls go through `urllib.request`, which sends them to the proxy named by `HTTP_PROXY` when it is set: in the
mesh that is the workload's sidecar, and the request's Host names the service (`http://reviews:9080/...`).
A service's address comes from the environment as in Istio's images: `<SERVICE>_HOSTNAME` (default: the
service's name), `<SERVICE>_SERVICE_PORT` (default 9080) and an optional `SERVICES_DOMAIN`.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_PORT = "9080"


@dataclass(frozen=True)
class Reply:
    """What an upstream answered: any status, with its body."""

    status: int
    body: bytes

    def json(self) -> object:
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


def service_url(service: str, env: Mapping[str, str]) -> str:
    """`http://<host>[.<domain>]:<port>` of a Bookinfo service, e.g. `http://reviews:9080`."""
    prefix = service.upper()
    host = env.get(f"{prefix}_HOSTNAME") or service
    port = env.get(f"{prefix}_SERVICE_PORT") or DEFAULT_PORT
    domain = env.get("SERVICES_DOMAIN")
    if domain:
        host = f"{host}.{domain}"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}"


@lru_cache(maxsize=1)
def _opener() -> urllib.request.OpenerDirector:
    # build_opener includes a ProxyHandler that reads HTTP_PROXY / NO_PROXY from the environment.
    return urllib.request.build_opener()


def get(url: str, headers: Mapping[str, str], timeout: float) -> Reply | None:
    """GET `url`; None when no HTTP response came back (refused, reset, timed out, bad URL).

    `timeout` bounds the connect and each wait for data, as the original clients' timeouts do.
    """
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        with _opener().open(request, timeout=timeout) as response:
            return Reply(int(response.status), response.read())
    except urllib.error.HTTPError as error:
        try:
            body = error.read()
        except (OSError, http.client.HTTPException):
            body = b""
        finally:
            error.close()
        return Reply(error.code, body)
    except (OSError, ValueError, http.client.HTTPException):
        return None
