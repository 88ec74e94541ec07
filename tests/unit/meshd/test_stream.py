"""The discovery stream on meshd's side: Hello checked against the certificate, then pushes and ACKs."""

from __future__ import annotations

import asyncio
import socket

from mesh_runtime.ca import Identity
from mesh_runtime.meshd.state import MeshState
from mesh_runtime.meshd.stream import DiscoveryStream
from mesh_runtime.xds.protocol import Ack, Hello, Nack, Ping, Pong, Push, dump, load
from tests.unit.discovery.snapshots import sidecar
from tests.unit.meshd.fakes import FakeTransport

PRODUCTPAGE = Identity("cluster.local", "default", "bookinfo-productpage")
NODE = sidecar("productpage-v1", "productpage", app_port=19080, inbound_port=15106)


def open_stream(
    state: MeshState, identity: Identity = PRODUCTPAGE, heartbeat: float | None = None
) -> tuple[DiscoveryStream, FakeTransport]:
    stream = DiscoveryStream(state, identity, heartbeat=heartbeat)
    transport = FakeTransport()
    stream.connection_made(transport)  # type: ignore[arg-type]
    return stream, transport


def test_hello_registers_the_workload_and_gets_a_config(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    async def scenario() -> None:
        stream, transport = open_stream(state)
        line = dump(Hello(NODE))
        stream.data_received(line[:10])  # a message may arrive in pieces
        assert transport.written == b""
        stream.data_received(line[10:])
        (first,) = [load(raw) for raw in transport.lines()]
        assert isinstance(first, Push) and first.config is not None
        assert state.proxy_workloads[NODE.id].healthy
        assert state.push.connections[NODE.id].status == "STALE"
        stream.data_received(dump(Ack(first.version, first.nonce)))
        assert state.push.connections[NODE.id].status == "SYNCED"
        stream.connection_lost(None)
        assert NODE.id not in state.push.connections
        assert not state.proxy_workloads[NODE.id].healthy
        # The disconnected workload is forgotten once it expires (the fixture's expiry is tiny).
        while NODE.id in state.proxy_workloads:
            await asyncio.sleep(0.01)

    loop.run_until_complete(asyncio.wait_for(scenario(), 10))


def test_a_hello_for_another_identity_is_refused(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    async def scenario() -> None:
        stream, transport = open_stream(state, Identity("cluster.local", "default", "bookinfo-reviews"))
        stream.data_received(dump(Hello(NODE)))
        (final,) = [load(raw) for raw in transport.lines()]
        assert (
            isinstance(final, Nack)
            and "its certificate is spiffe://cluster.local/ns/default/sa/bookinfo-reviews" in final.error
        )
        assert transport.closed and state.push.connections == {}
        assert state.push.metrics.refused_streams.value("identity_mismatch") == 1

    loop.run_until_complete(scenario())


def test_bad_messages_end_the_stream(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    async def scenario() -> None:
        stream, transport = open_stream(state)
        stream.data_received(b"{not json}\n")
        assert transport.closed and "bad message" in load(transport.lines()[0]).error  # type: ignore[union-attr]
        stream, transport = open_stream(state)
        stream.data_received(dump(Ack("1", "n")))
        assert transport.closed and state.push.metrics.refused_streams.value("no_hello") == 1
        stream, transport = open_stream(state)
        stream.data_received(dump(Hello(NODE)) + dump(Hello(NODE)))
        assert transport.closed and "unexpected hello after hello" in transport.lines()[-1].decode()
        stream.connection_lost(None)
        assert state.push.connections == {}

    loop.run_until_complete(scenario())


def pings(transport: FakeTransport) -> int:
    return sum(1 for line in transport.lines() if isinstance(load(line), Ping))


def test_a_proxy_that_answers_pings_stays_and_one_that_goes_silent_is_closed_and_unhealthy(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    async def scenario() -> None:
        stream, transport = open_stream(state, heartbeat=0.1)
        stream.data_received(dump(Hello(NODE)))
        answered = 0
        while answered < 5:  # the proxy answers five Pings: the stream stays open
            await asyncio.sleep(0.01)
            if pings(transport) > answered:
                answered += 1
                stream.data_received(dump(Pong()))
            assert not transport.closed
        assert state.proxy_workloads[NODE.id].healthy
        while not transport.aborted:  # then it goes silent (stopped, or its link cut: no FIN comes)
            await asyncio.sleep(0.01)
        stream.connection_lost(None)  # what aborting the transport does
        assert not state.proxy_workloads[NODE.id].healthy
        assert state.push.metrics.silent_streams.value() == 1

    loop.run_until_complete(asyncio.wait_for(scenario(), 10))


def test_a_proxy_that_did_not_ask_for_a_heartbeat_is_never_pinged(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    async def scenario() -> None:
        stream, transport = open_stream(state)
        stream.data_received(dump(Hello(NODE)))
        await asyncio.sleep(0.3)
        assert pings(transport) == 0 and not transport.closed
        stream.connection_lost(None)

    loop.run_until_complete(asyncio.wait_for(scenario(), 10))


def test_every_stream_has_tcp_keepalive(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    async def scenario() -> None:
        with socket.socket() as sock:
            stream = DiscoveryStream(state, PRODUCTPAGE, heartbeat=2.0)
            transport = FakeTransport()
            transport.extra["socket"] = sock
            stream.connection_made(transport)  # type: ignore[arg-type]
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 2
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 6000
            stream.connection_lost(None)

    loop.run_until_complete(scenario())
