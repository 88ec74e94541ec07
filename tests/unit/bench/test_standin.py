"""The stand-in proxies' protocol, with the runtime's own messages and a transport that records writes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bench.standin import Session, StreamProtocol, Watch, envelope, stand_in_node
from mesh_runtime.xds.protocol import Ack, Hello, Nack, Ping, Pong, ProtocolError, Push, dump, load
from tests.unit.meshd.fakes import FakeTransport
from tests.unit.xds.test_codec import sample_config

NODE = stand_in_node(7, "svc-0007", "standin-0007")


def ticks(start: float = 100.0, step: float = 0.5) -> Iterator[float]:
    now = start
    while True:
        yield now
        now += step


def session(watch: Watch | None = None, decode: bool = False) -> Session:
    clock = ticks()
    return Session(NODE, watch, decode=decode, clock=lambda: next(clock))


def test_the_node_is_a_sidecar_workload_in_the_bench_namespace() -> None:
    assert NODE.id == "standin-0007.bench" and NODE.workload == "standin-0007"
    assert (NODE.namespace, NODE.service_account, NODE.type) == ("bench", "standin-0007", "sidecar")
    assert NODE.labels["app"] == "svc-0007" and NODE.inbound_port > 0
    assert stand_in_node(250, "s", "a").address != stand_in_node(0, "s", "a").address
    assert load(session().hello()) == Hello(NODE)


def test_envelope_reads_version_and_nonce_of_the_codecs_push_lines() -> None:
    config = sample_config()
    assert envelope(dump(Push('v"1', "n1", config))) == ('v"1', "n1", True)
    assert envelope(dump(Push("v2", "n2", endpoints=config.endpoints))) == ("v2", "n2", False)
    assert envelope(dump(Ack("v2", "n2"))) is None
    assert envelope(dump(Ping())) is None
    # Another key order (a future codec): not the fast shape, so it is decoded in full.
    assert envelope(b'{"nonce":"n","version":"v","config":null,"endpoints":[],"type":"push"}') is None


@pytest.mark.parametrize("decode", [False, True])
def test_every_push_is_acknowledged_and_recorded_with_the_markers_it_carries(decode: bool) -> None:
    config = sample_config()
    watch = Watch([b'"jason"', b'"/not-there"'])
    stand_in = session(watch, decode=decode)
    full = dump(Push("v1", "n1", replace(config, version="v1")))
    assert b'"jason"' in full, "the sample config matches the header end-user: jason"
    answer = stand_in.receive(full, arrived=50.0)
    assert answer is not None and load(answer) == Ack("v1", "n1")
    answer = stand_in.receive(dump(Push("v2", "n2", endpoints=config.endpoints)), arrived=51.0)
    assert answer is not None and load(answer) == Ack("v2", "n2")
    first, second = stand_in.events
    assert (first.proxy, first.version, first.nonce, first.arrived, first.full) == (
        NODE.id,
        "v1",
        "n1",
        50.0,
        True,
    )
    assert first.carries == (b'"jason"',) and first.acked == 100.0
    assert (second.version, second.full, second.carries, second.arrived) == ("v2", False, (), 51.0)
    assert stand_in.acked_version == "v2"


def test_a_ping_gets_a_pong_and_a_final_nack_is_kept_as_the_reason() -> None:
    stand_in = session()
    answer = stand_in.receive(dump(Ping()))
    assert answer is not None and load(answer) == Pong()
    assert stand_in.pings == 1 and not stand_in.events
    assert stand_in.receive(dump(Nack("", "", "node says it is someone else"))) is None
    assert stand_in.refused == "node says it is someone else"


@pytest.mark.parametrize(
    "line",
    [b"not json", dump(Hello(NODE)), dump(Ack("v", "n")), dump(Pong()), b'{"type":"push","version":1}'],
)
def test_what_no_proxy_is_sent_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        session().receive(line)


def test_the_stream_upgrades_says_hello_then_answers_lines_in_pieces() -> None:
    async def scenario() -> None:
        stand_in = session()
        protocol = StreamProtocol(stand_in, "127.0.0.1", 15012)
        transport = FakeTransport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        request = bytes(transport.written)
        assert request.startswith(b"GET /v1/discovery HTTP/1.1\r\n")
        assert b"Upgrade: meshlab-xds\r\n" in request and b"Meshlab-Heartbeat: 1\r\n" in request
        transport.written.clear()
        push = dump(Push("v1", "n1", sample_config()))
        protocol.data_received(b"HTTP/1.1 101 Switching Protocols\r\nMeshlab-Heartbeat: 5\r\n\r\n" + push[:7])
        assert protocol.opened.done() and protocol.opened.exception() is None
        assert [load(line) for line in transport.lines()] == [Hello(NODE)]
        for start in range(7, len(push), 1000):
            protocol.data_received(push[start : start + 1000])
        protocol.data_received(dump(Ping()))
        assert [load(line) for line in transport.lines()[1:]] == [Ack("v1", "n1"), Pong()]
        assert [event.version for event in stand_in.events] == ["v1"]
        protocol.connection_lost(None)
        assert protocol.closed.done() and protocol.error == "meshd closed the stream"

    asyncio.run(scenario())


def test_a_refused_upgrade_fails_the_opening_with_meshds_answer() -> None:
    async def scenario() -> None:
        protocol = StreamProtocol(session(), "127.0.0.1", 15012)
        transport = FakeTransport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(b'HTTP/1.1 401 Unauthorized\r\nContent-Length: 20\r\n\r\n{"error": "no cert"}')
        assert transport.aborted
        with pytest.raises(Exception, match=r"standin-0007.bench: meshd did not open .*401.*no cert"):
            await protocol.opened

    asyncio.run(scenario())


def test_a_bad_line_aborts_the_stream_and_says_why() -> None:
    async def scenario() -> None:
        protocol = StreamProtocol(session(), "127.0.0.1", 15012)
        transport = FakeTransport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(b"HTTP/1.1 101 Switching Protocols\r\n\r\n{oops\n")
        assert transport.aborted and protocol.error.startswith("meshd sent a bad message")

    asyncio.run(scenario())
