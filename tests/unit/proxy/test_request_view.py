"""The request view on its own: what route matches, authorization policies and consistent hashing read of a
parsed request."""

from __future__ import annotations

import asyncio

from mesh_runtime import xds
from mesh_runtime.proxy.cluster import ClusterState
from mesh_runtime.proxy.downstream import DownstreamProtocol

from .harness import Harness, make_harness, sidecar_config


def parsed(harness: Harness, data: bytes) -> DownstreamProtocol:
    (_upstream,) = harness.pool()
    client, _ = harness.connect(("10.4.4.4", 1234))
    client.data_received(data)
    return client


def hashing(harness: Harness, **policy: str | bool) -> ClusterState:
    cluster = harness.cluster()
    cluster.hash_policy = xds.LoadBalancer(policy="CONSISTENT_HASH", **policy)  # type: ignore[arg-type]
    return cluster


def test_headers_are_read_by_lower_case_name_and_repeated_ones_joined(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = make_harness(sidecar_config(), loop)
    client = parsed(harness, b"GET /r HTTP/1.1\r\nHost: reviews\r\nX-Tag: a\r\nx-tag:  b \r\n\r\n")
    assert client.header(b"x-tag") == b"a,b"
    assert client.request_header("x-tag") == "a,b"  # policies name headers in lower case
    assert client.header(b"missing") is None and client.request_header("missing") is None


def test_path_query_and_port(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client = parsed(harness, b"GET /r/1?a=1&b=&a=2 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n")
    assert client.path_only() == b"/r/1" and client.request_path == "/r/1"
    assert (
        client.query_param("a") == "1" and client.query_param("b") == "" and client.query_param("c") is None
    )
    assert client.port == 9080  # outbound: the port the authority names
    client.authority = b"reviews"
    assert client.port == 80
    client.authority = b"[::1]"
    assert client.port == 80
    client.authority = b"reviews:x"
    assert client.port == 0


def test_what_policies_read(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client = parsed(harness, b"DELETE /r?x HTTP/1.1\r\nHost: reviews:9080\r\n\r\n")
    client.peer_identity = "spiffe://cluster.local/ns/default/sa/caller"
    assert client.source_principal == "cluster.local/ns/default/sa/caller"
    assert client.source_ip == "10.4.4.4"
    assert client.request_method == "DELETE"
    assert client.request_host == "reviews:9080"
    assert client.destination_port == 15001  # an outbound listener's own port


def test_hash_keys(loop: asyncio.AbstractEventLoop) -> None:
    harness = make_harness(sidecar_config(), loop)
    client = parsed(
        harness,
        b"GET /?user=u7 HTTP/1.1\r\nHost: reviews\r\nX-User: u1\r\nCookie: a=1; session=s9; b=2\r\n\r\n",
    )
    assert client.hash_key(hashing(harness, hash_header="X-User")) == b"u1"
    assert client.hash_key(hashing(harness, hash_cookie="session")) == b"s9"
    assert client.hash_key(hashing(harness, hash_cookie="other")) is None
    assert client.hash_key(hashing(harness, hash_source_ip=True)) == b"10.4.4.4"
    assert client.hash_key(hashing(harness, hash_query_parameter="user")) == b"u7"
    assert client.hash_key(hashing(harness, hash_query_parameter="none")) is None
