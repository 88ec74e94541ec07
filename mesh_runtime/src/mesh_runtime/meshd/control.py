"""Port 15012 (TLS): the CA (certificate signing, trust bundle) and the discovery stream.

- `POST /v1/certificates`: a CSR for one identity, authenticated by a bootstrap token that allows that
  identity, or (for renewals) by a client certificate of that same identity.
- `GET /v1/trust-bundle`: the roots.
- `GET /v1/discovery`: with a client certificate issued by the CA, upgraded to the discovery stream; kept
  alive with Ping/Pong when the proxy asks (`Meshlab-Heartbeat`, see xds/heartbeat.py).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from ..ca import (
    BootstrapTokens,
    CAError,
    CertificateAuthority,
    Identity,
    IdentityError,
    TTLError,
)
from ..ca.pki import certificate_pem
from ..xds import heartbeat
from .http import Request, Response, Upgrade, error_response, json_response
from .state import MeshState
from .stream import DiscoveryStream

log = logging.getLogger(__name__)

UPGRADE_PROTOCOL = "meshlab-xds"


class ControlPlaneHandler:
    def __init__(
        self,
        state: MeshState,
        ca: CertificateAuthority,
        tokens: BootstrapTokens,
        trust_domain: str,
        heartbeat_interval: float = heartbeat.DEFAULT_INTERVAL,
    ) -> None:
        self.state = state
        self.ca = ca
        self.tokens = tokens
        self.trust_domain = trust_domain
        self.heartbeat_interval = heartbeat_interval
        self._signer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="meshd-ca")

    async def __call__(self, request: Request) -> Response | Upgrade:
        route = (request.method, request.path)
        if route == ("POST", "/v1/certificates"):
            return await self.certificates(request)
        if route == ("GET", "/v1/trust-bundle"):
            return json_response(200, {"roots": [certificate_pem(root) for root in self.ca.roots]})
        if route == ("GET", "/v1/discovery"):
            return self.discovery(request)
        if request.path in ("/v1/certificates", "/v1/trust-bundle", "/v1/discovery"):
            return error_response(405, f"{request.method} is not allowed on {request.path}")
        return error_response(404, f"no such endpoint: {request.path}")

    def close(self) -> None:
        self._signer.shutdown(wait=True)

    # -- the CA ---------------------------------------------------------------------------------------------

    async def certificates(self, request: Request) -> Response:
        metrics = self.ca.metrics
        metrics.record_csr()
        try:
            body = request.json()
        except ValueError as exc:
            return error_response(400, str(exc))
        if not isinstance(body, dict):
            return error_response(400, "the body must be a JSON object with csr, identity and ttl_seconds")
        csr, identity, ttl = body.get("csr"), body.get("identity"), body.get("ttl_seconds", 0)
        if not isinstance(csr, str) or not csr:
            return error_response(400, "csr: required, the PEM certificate signing request")
        if not isinstance(identity, str) or not identity:
            return error_response(400, "identity: required, spiffe://<trust domain>/ns/<ns>/sa/<sa>")
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
            return error_response(400, f"ttl_seconds: must be a whole number of seconds >= 0, found {ttl!r}")
        token = request.bearer_token()
        peer = _peer_identity(request.peer_certificate)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._signer, self._sign, csr, identity, ttl, token, peer)

    def _sign(self, csr: str, identity: str, ttl: int, token: str | None, peer: Identity | None) -> Response:
        """Authenticate, then sign (on a worker thread: token lookups read a file, signing is CPU)."""
        refusal = self._authenticate(identity, token, peer)
        if refusal is not None:
            self.ca.metrics.record_authentication_failure()
            log.warning("certificate request for %s refused: %s", identity, refusal)
            return error_response(401, f"request authenticate failure: {refusal}")
        try:
            chain = self.ca.sign_csr(csr, [identity], timedelta(seconds=ttl) if ttl else None)
        except TTLError as exc:
            return error_response(400, str(exc))
        except CAError as exc:
            return error_response(400, str(exc))
        log.info("issued a certificate for %s", identity)
        return json_response(200, {"cert_chain": chain.cert_chain})

    def _authenticate(self, identity: str, token: str | None, peer: Identity | None) -> str | None:
        """None when the caller may have `identity`, else why not."""
        if token is not None:
            authorization = self.tokens.authorize(token, identity)
            return None if authorization.allowed else authorization.reason
        if peer is not None:
            if peer.uri == identity:
                return None
            return f"the client certificate is {peer.uri}; it can renew only that identity"
        return "no bootstrap token (Authorization: Bearer <token>) and no client certificate"

    # -- discovery ------------------------------------------------------------------------------------------

    def discovery(self, request: Request) -> Response | Upgrade:
        metrics = self.state.push.metrics
        if request.headers.get("upgrade", "").lower() != UPGRADE_PROTOCOL:
            return error_response(
                426, f"the discovery stream needs Connection: Upgrade, Upgrade: {UPGRADE_PROTOCOL}"
            )
        peer = _peer_identity(request.peer_certificate)
        if peer is None:
            metrics.refused_streams.increment("no_client_certificate")
            return error_response(
                401, "the discovery stream needs a client certificate issued by this mesh's CA"
            )
        if peer.trust_domain != self.trust_domain:
            metrics.refused_streams.increment("trust_domain")
            return error_response(403, f"{peer.uri} is not in this mesh's trust domain {self.trust_domain!r}")
        state, interval = self.state, self.heartbeat_interval
        if not request.headers.get(heartbeat.HEADER.lower()):
            # A proxy that does not know Ping: TCP keepalive only.
            return Upgrade(UPGRADE_PROTOCOL, lambda _: DiscoveryStream(state, peer, keepalive=interval))
        return Upgrade(
            UPGRADE_PROTOCOL,
            lambda _: DiscoveryStream(state, peer, heartbeat=interval),
            ((heartbeat.HEADER, f"{interval:g}"),),
        )


def _peer_identity(certificate: dict[str, Any] | None) -> Identity | None:
    """The SPIFFE identity in a verified client certificate's URI SAN, if it has exactly one."""
    if not certificate:
        return None
    uris = [value for kind, value in certificate.get("subjectAltName", ()) if kind == "URI"]
    if len(uris) != 1:
        return None
    try:
        return Identity.parse(uris[0])
    except IdentityError:
        return None
