"""The CA and discovery endpoints of port 15012, without sockets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from mesh_runtime.ca import BootstrapTokens, CertificateAuthority, Identity, build_csr, generate_key
from mesh_runtime.meshd.control import ControlPlaneHandler
from mesh_runtime.meshd.http import Response, Upgrade
from mesh_runtime.meshd.state import MeshState
from tests.unit.meshd.fakes import FakeTransport, peer_certificate, request

PRODUCTPAGE = Identity("cluster.local", "default", "bookinfo-productpage")
REVIEWS = Identity("cluster.local", "default", "bookinfo-reviews")


@pytest.fixture
def handler(tmp_path: Path, state: MeshState) -> ControlPlaneHandler:
    ca = CertificateAuthority.load_or_create(tmp_path / "ca")
    control = ControlPlaneHandler(state, ca, BootstrapTokens(tmp_path / "tokens.json"), "cluster.local")
    return control


def csr_body(identity: Identity, ttl: Any = 3600) -> bytes:
    return json.dumps(
        {"csr": build_csr(generate_key(), identity).decode(), "identity": identity.uri, "ttl_seconds": ttl}
    ).encode()


def answer(
    loop: asyncio.AbstractEventLoop, handler: ControlPlaneHandler, *args: Any, **kw: Any
) -> tuple[int, Any]:
    response = loop.run_until_complete(handler(request(*args, **kw)))
    assert isinstance(response, Response)
    return response.status, json.loads(response.body)


def test_a_token_gets_the_identities_it_allows(
    loop: asyncio.AbstractEventLoop, handler: ControlPlaneHandler
) -> None:
    token = handler.tokens.issue(["default/bookinfo-productpage"]).token
    status, body = answer(loop, handler, "POST", "/v1/certificates", csr_body(PRODUCTPAGE), token=token)
    assert status == 200 and len(body["cert_chain"]) == 2
    status, body = answer(loop, handler, "POST", "/v1/certificates", csr_body(REVIEWS), token=token)
    assert (
        status == 401
        and "does not allow spiffe://cluster.local/ns/default/sa/bookinfo-reviews" in body["error"]
    )
    status, body = answer(loop, handler, "POST", "/v1/certificates", csr_body(PRODUCTPAGE), token="unknown")
    assert status == 401 and "unknown bootstrap token" in body["error"]
    metrics = handler.ca.metrics
    assert (metrics.csr_count.value(), metrics.authentication_failure_count.value()) == (3, 2)
    handler.close()


def test_a_client_certificate_renews_its_own_identity_only(
    loop: asyncio.AbstractEventLoop, handler: ControlPlaneHandler
) -> None:
    own = FakeTransport(peer_certificate(PRODUCTPAGE.uri))
    assert answer(loop, handler, "POST", "/v1/certificates", csr_body(PRODUCTPAGE), transport=own)[0] == 200
    other = FakeTransport(peer_certificate(PRODUCTPAGE.uri))
    status, body = answer(loop, handler, "POST", "/v1/certificates", csr_body(REVIEWS), transport=other)
    assert status == 401 and "it can renew only that identity" in body["error"]
    status, body = answer(loop, handler, "POST", "/v1/certificates", csr_body(REVIEWS))
    assert status == 401 and "no bootstrap token" in body["error"]
    handler.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "the request body is not JSON"),
        (b"[]", "the body must be a JSON object"),
        (json.dumps({"identity": PRODUCTPAGE.uri}).encode(), "csr: required"),
        (json.dumps({"csr": "x"}).encode(), "identity: required"),
        (csr_body(PRODUCTPAGE, ttl=-1), "ttl_seconds: must be a whole number"),
        (csr_body(PRODUCTPAGE, ttl=200 * 86400), "is greater than the max allowed TTL"),
        (json.dumps({"csr": "garbage", "identity": PRODUCTPAGE.uri}).encode(), "failed to parse the CSR"),
    ],
)
def test_bad_requests(
    loop: asyncio.AbstractEventLoop, handler: ControlPlaneHandler, body: bytes, message: str
) -> None:
    token = handler.tokens.issue(["default/*"]).token
    status, answered = answer(loop, handler, "POST", "/v1/certificates", body, token=token)
    assert status == 400 and message in answered["error"]
    handler.close()


def test_trust_bundle_and_discovery_upgrade(
    loop: asyncio.AbstractEventLoop, handler: ControlPlaneHandler
) -> None:
    status, body = answer(loop, handler, "GET", "/v1/trust-bundle")
    assert status == 200 and body["roots"] == [handler.ca.trust_bundle()]
    upgrade_headers = {"connection": "Upgrade", "upgrade": "meshlab-xds"}
    assert answer(loop, handler, "GET", "/v1/discovery")[0] == 426
    assert answer(loop, handler, "GET", "/v1/discovery", headers=upgrade_headers)[0] == 401
    foreign = FakeTransport(peer_certificate("spiffe://other.domain/ns/default/sa/x"))
    assert answer(loop, handler, "GET", "/v1/discovery", headers=upgrade_headers, transport=foreign)[0] == 403
    own = FakeTransport(peer_certificate(PRODUCTPAGE.uri))
    upgrade = loop.run_until_complete(
        handler(request("GET", "/v1/discovery", headers=upgrade_headers, transport=own))
    )
    assert isinstance(upgrade, Upgrade) and upgrade.protocol == "meshlab-xds"
    assert upgrade.headers == ()  # an older proxy did not ask for a heartbeat: it is never sent a Ping
    asking = {**upgrade_headers, "meshlab-heartbeat": "1"}
    upgrade = loop.run_until_complete(handler(request("GET", "/v1/discovery", headers=asking, transport=own)))
    assert isinstance(upgrade, Upgrade) and upgrade.headers == (("Meshlab-Heartbeat", "5"),)
    assert answer(loop, handler, "PUT", "/v1/discovery")[0] == 405
    assert answer(loop, handler, "GET", "/elsewhere")[0] == 404
    metrics = handler.state.push.metrics.refused_streams
    assert (metrics.value("no_client_certificate"), metrics.value("trust_domain")) == (1, 1)
    handler.close()
