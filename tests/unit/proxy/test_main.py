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
    ],
)
def test_a_bad_node_name_is_a_usage_error(argv: list[str], message: str) -> None:
    stderr = io.StringIO()
    assert main(["sidecar", *argv], stderr=stderr) == 2
    assert stderr.getvalue() == message
