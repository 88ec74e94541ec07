"""The admin port as a real process: unknown paths, and /quitquitquit (POST only) stopping the proxy."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from .conftest import free_port, start_proxy, stop
from .test_stats_port import inbound_config


def test_quitquitquit_stops_the_proxy(tmp_path: Path) -> None:
    proxy = start_proxy("b", inbound_config(free_port(), free_port()), tmp_path)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.admin_port, timeout=10)
        connection.request("GET", "/nope")
        unknown = connection.getresponse()
        assert (unknown.status, unknown.read()) == (404, b"not found\n")
        connection.request("GET", "/quitquitquit")
        refused = connection.getresponse()
        assert (refused.status, refused.read()) == (405, b"use POST\n")
        assert json.loads(proxy.admin("/server_info"))["state"] == "LIVE"
        connection.request("POST", "/quitquitquit")
        quit_ = connection.getresponse()
        assert (quit_.status, quit_.read(), quit_.getheader("connection")) == (200, b"OK\n", "close")
        connection.close()
        assert proxy.process.wait(15) == 0
    finally:
        stop(proxy)
    assert "Traceback" not in proxy.log.read_text()
