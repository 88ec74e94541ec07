"""Sidecar to sidecar over mTLS, as real processes: the identity is checked on the wire, STRICT refuses
plaintext, malformed requests get a 400, and big bodies stream through without being held in memory."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time

import pytest

from .conftest import CHUNK, Mesh


def request(port: int, method: str, path: str, host: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_request_reaches_app_b_through_both_sidecars_with_a_identity(mesh: Mesh) -> None:
    status, body = request(mesh.outbound_port, "GET", "/echo?x=1", "b:8000")
    assert status == 200
    seen = json.loads(body)
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    # B's sidecar read A's SPIFFE identity from A's client certificate during the handshake.
    assert "URI=spiffe://cluster.local/ns/default/sa/a" in headers["x-forwarded-client-cert"]
    assert headers["x-forwarded-client-cert"].startswith("By=spiffe://cluster.local/ns/default/sa/b;Hash=")
    assert headers["x-forwarded-proto"] == "http"  # set by A for its plaintext client, kept by B (as Envoy)
    assert len(headers["x-request-id"]) == 36
    assert seen["path"] == "/echo?x=1"


def test_absolute_form_as_http_proxy(mesh: Mesh) -> None:
    status, body = request(mesh.outbound_port, "POST", "http://b:8000/echo", "b:8000", body=b"hello")
    assert status == 200 and json.loads(body)["body"] == "hello"


def test_a_peer_with_another_identity_is_refused(mesh: Mesh) -> None:
    status, body = request(mesh.outbound_port, "GET", "/echo", "impostor:8000")
    assert status == 503
    assert body.startswith(
        b"upstream connect error or disconnect/reset before headers. reset reason: connection"
    )
    assert b"spiffe://cluster.local/ns/default/sa/b is not spiffe://cluster.local/ns/default/sa/c" in body
    stats = mesh.a.admin("/stats")
    assert "upstream_cx_tls_identity_mismatch: 3" in stats  # the try and Istio's 2 default retries


def test_unknown_host_is_404(mesh: Mesh) -> None:
    status, _ = request(mesh.outbound_port, "GET", "/", "ratings:9080")
    assert status == 404


def test_strict_refuses_plaintext_without_answering(mesh: Mesh) -> None:
    with socket.create_connection(("127.0.0.1", mesh.inbound_port), timeout=5) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: b\r\n\r\n")
        try:
            reply = sock.recv(1024)
        except ConnectionResetError:  # closed with the request unread: a reset
            reply = b""
        assert reply == b""  # nothing from the app
    assert "downstream_cx_plaintext_refused: 1" in mesh.b.admin("/stats")


def test_strict_refuses_tls_without_a_client_certificate(mesh: Mesh) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", mesh.inbound_port), timeout=5) as raw,
        pytest.raises((ssl.SSLError, ConnectionError)),
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"GET /echo HTTP/1.1\r\nHost: b\r\n\r\n")
        if not tls.recv(1024):
            raise ConnectionResetError("closed")


def test_malformed_request_gets_400_and_close(mesh: Mesh) -> None:
    with socket.create_connection(("127.0.0.1", mesh.outbound_port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost b:8000\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_big_download_streams_to_a_slow_reader(mesh: Mesh) -> None:
    before = mesh.a.rss_kib(), mesh.b.rss_kib()
    connection = http.client.HTTPConnection("127.0.0.1", mesh.outbound_port, timeout=60)
    connection.request("GET", "/big?mb=48", headers={"Host": "b:8000"})
    response = connection.getresponse()
    received = 0
    peak = before
    while piece := response.read(CHUNK):
        received += len(piece)
        time.sleep(0.0005)
        if received % (4 * 1024 * 1024) < CHUNK:
            peak = max(peak[0], mesh.a.rss_kib()), max(peak[1], mesh.b.rss_kib())
    connection.close()
    assert received == 48 * 1024 * 1024
    # Both proxies held at most a few buffers of it, not the body.
    assert peak[0] - before[0] < 16 * 1024 and peak[1] - before[1] < 16 * 1024, (before, peak)


def test_big_upload_streams_to_a_slow_app(mesh: Mesh) -> None:
    size = 48 * 1024 * 1024
    before = mesh.a.rss_kib(), mesh.b.rss_kib()
    peak = list(before)

    def body():  # type: ignore[no-untyped-def]
        block = b"y" * (1024 * 1024)
        for index in range(48):
            if index % 4 == 0:
                peak[0] = max(peak[0], mesh.a.rss_kib())
                peak[1] = max(peak[1], mesh.b.rss_kib())
            yield block

    connection = http.client.HTTPConnection("127.0.0.1", mesh.outbound_port, timeout=120)
    connection.request("POST", "/sink", body=body(), headers={"Host": "b:8000", "Content-Length": str(size)})
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["received"] == size
    connection.close()
    assert peak[0] - before[0] < 16 * 1024 and peak[1] - before[1] < 16 * 1024, (before, peak)


def test_admin_reports_config_and_clusters(mesh: Mesh) -> None:
    dump = json.loads(mesh.a.admin("/config_dump"))
    assert dump["version"] == "a-1"
    assert dump["config"]["listeners"][0]["direction"] == "outbound"
    clusters = mesh.a.admin("/clusters")
    assert "outbound|8000||b.default.svc.cluster.local::127.0.0.1:" in clusters
    assert "::health_flags::healthy" in clusters
    prometheus = mesh.a.admin("/stats/prometheus")
    assert 'envoy_http_downstream_rq_code{response_code="200"}' in prometheus
