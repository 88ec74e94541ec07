from __future__ import annotations

import pytest

from mesh_runtime.xds.protocol import Ack, Hello, Nack, Ping, Pong, ProtocolError, Push, dump, load
from tests.unit.xds.test_codec import sample_config


def test_messages_round_trip_as_single_lines() -> None:
    config = sample_config()
    for message in (
        Hello(config.node),
        Push("42", "n1", config),
        Push("43", "n2", endpoints=config.endpoints),
        Ack("42", "n1"),
        Nack("43", "n2", "cluster outbound|9080||x: no endpoints"),
        Ping(),
        Pong(),
    ):
        line = dump(message)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert load(line) == message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "type is hello, push, ack, nack, ping or pong"),
        (b'{"type": "bye"}', "type is hello, push, ack, nack, ping or pong"),
        (b'{"type": "ping", "when": 1}', "Ping: unknown field"),
        (b'{"type": "ack", "version": 1, "nonce": "n"}', "Ack.version: expected str"),
    ],
)
def test_bad_lines_are_protocol_errors(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        load(line)


def test_an_old_proxys_hello_without_node_name_and_stats_port_is_read() -> None:
    # As a proxy from before Node.node_name and Node.stats_port writes it.
    line = (
        b'{"type":"hello","node":{"id":"ratings-v1.default","type":"sidecar","namespace":"default",'
        b'"workload":"ratings-v1","service_account":"bookinfo-ratings","labels":{"app":"ratings"},'
        b'"address":"127.0.0.1","inbound_port":15006,"app_ports":[9080],"outbound_port":15001,'
        b'"admin_port":15000,"proxy_version":"0.1.0","services":[]}}\n'
    )
    message = load(line)
    assert isinstance(message, Hello)
    assert (message.node.id, message.node.admin_port) == ("ratings-v1.default", 15000)
    assert (message.node.node_name, message.node.stats_port) == ("", 0)


def test_ping_and_pong_are_one_short_line_each() -> None:
    assert dump(Ping()) == b'{"type":"ping"}\n'
    assert dump(Pong()) == b'{"type":"pong"}\n'
