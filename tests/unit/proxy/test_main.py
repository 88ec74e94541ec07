"""mesh-proxy's command line: the Node it builds from its flags, and usage errors as one line."""

from __future__ import annotations

import io
import socket

import pytest

from mesh_runtime.proxy.main import build_parser, main, node_from


def test_the_node_is_named_after_this_machine_unless_told() -> None:
    parser = build_parser()
    assert node_from(parser.parse_args(["sidecar"])).node_name == socket.gethostname()
    told = node_from(parser.parse_args(["sidecar", "--node-name", "node01", "--address", "198.18.0.11"]))
    assert (told.node_name, told.address) == ("node01", "198.18.0.11")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--node-name="], "mesh-proxy: --node-name: '' is not a host name\n"),
        (["--node-name", "node 01"], "mesh-proxy: --node-name: 'node 01' is not a host name\n"),
        (
            ["--stats-port=15006", "--app-port=9080"],
            "mesh-proxy: --stats-port 15006 is also the --inbound-port: give each its own port\n",
        ),
        (
            ["--stats-port=15007", "--app-port=9080", "--app-port=9081"],
            "mesh-proxy: --stats-port 15007 is also the inbound port of --app-port 9081: "
            "give each its own port\n",
        ),
        (
            ["--stats-port=15001"],
            "mesh-proxy: --stats-port 15001 is also the --outbound-port: give each its own port\n",
        ),
    ],
)
def test_a_bad_node_name_or_stats_port_is_a_usage_error(argv: list[str], message: str) -> None:
    # Each is refused before the proxy listens anywhere.
    stderr = io.StringIO()
    assert main(["sidecar", *argv], stderr=stderr) == 2
    assert stderr.getvalue() == message


def test_a_gateways_stats_port_may_not_be_its_first_servers_port() -> None:
    stderr = io.StringIO()
    assert main(["gateway", "--inbound-port=8080", "--stats-port=8080"], stderr=stderr) == 2
    assert stderr.getvalue() == (
        "mesh-proxy: --stats-port 8080 is also the --inbound-port: give each its own port\n"
    )
    # A gateway has no outbound listener: its --outbound-port is not in the way.
    node = node_from(build_parser().parse_args(["gateway", "--stats-port=15001"]))
    assert (node.stats_port, node.outbound_port) == (15001, 0)


@pytest.mark.parametrize("value", ["-1", "65536", "http", "1.5", ""])
def test_port_flags_take_ports(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["sidecar", f"--stats-port={value}"])
    assert exit_.value.code == 2
    assert f"argument --stats-port: {value!r} is not a port (0-65535)" in capsys.readouterr().err
