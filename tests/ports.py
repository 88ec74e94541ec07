"""Loopback ports for the servers tests start, and for addresses where nothing listens.

A port the kernel hands out for `bind(0)` comes from the ephemeral range (net.ipv4.ip_local_port_range), the
same range every outgoing connection's local port is drawn from: released before a child process binds it,
it can be taken in between by any client socket on the machine ("Address already in use"). These ports come
from below that range, where the kernel never picks one on its own, and above the mesh's default ports
(15000-15101, 19000 and up for Bookinfo), so a test cannot collide with a lab running on this machine either.
Within one test process each port is handed out once; each process starts at its own offset, so processes
running side by side rarely meet, and a port found in use is passed over.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

#: The lowest port handed out (above the lab's defaults).
FIRST_PORT = 20000
#: Linux's default start of the ephemeral range, when /proc does not say.
DEFAULT_EPHEMERAL_START = 32768


def ephemeral_start() -> int:
    try:
        low, _high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL_START
    return int(low)


def _candidates() -> Iterator[int]:
    stop = ephemeral_start()
    if stop - FIRST_PORT < 1000:
        raise RuntimeError(
            f"net.ipv4.ip_local_port_range starts at {stop}: tests need ports {FIRST_PORT}-{FIRST_PORT + 999}"
            " outside it (sysctl -w net.ipv4.ip_local_port_range='32768 60999')"
        )
    span = stop - FIRST_PORT
    offset = (os.getpid() * 7919) % span
    for step in range(span):
        yield FIRST_PORT + (offset + step) % span


_PORTS = _candidates()


def bindable(port: int, host: str) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now and that no other caller in this process has been given."""
    for port in _PORTS:
        if bindable(port, host):
            return port
    raise RuntimeError(f"no free port left on {host} between {FIRST_PORT} and {ephemeral_start()}")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    return [free_port(host) for _ in range(count)]


def unused_address(host: str = "127.0.0.1") -> str:
    """host:port where nothing listens (for refused-connection tests)."""
    return f"{host}:{free_port(host)}"


__all__ = ["free_port", "free_ports", "unused_address"]
