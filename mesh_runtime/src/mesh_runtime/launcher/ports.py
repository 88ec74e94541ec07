"""Free loopback ports for a lab's processes, and the check that they are free again afterwards.

Ports are taken below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), so that outgoing
connections, which take their local ports from that range, cannot grab one between the moment it is chosen
and the moment its process binds it. The search starts at a random place so that labs started at the same time
(parallel test runs) rarely try the same ports.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"
LOWEST = 20000
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_START = 32768


class PortError(Exception):
    pass


def ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


def is_free(port: int, host: str = LOOPBACK) -> bool:
    """Nothing listens on the port and it can be bound (a connection in TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def is_listening(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        with contextlib.suppress(OSError):
            probe.connect((host, port))
            # A port in the ephemeral range can be picked as the probe's own source port: TCP then
            # connects the socket to itself, and nothing is listening.
            return bool(probe.getsockname() != probe.getpeername())
    return False


class PortAllocator:
    """Hands out distinct free ports; `reserve` takes a port the spec fixed."""

    def __init__(self, low: int = LOWEST, high: int | None = None, seed: int | None = None) -> None:
        self.low = low
        self.high = (high or ephemeral_start()) - 1
        if self.high <= self.low:
            self.low, self.high = 1024, max(self.high, 2048)
        self.taken: set[int] = set()
        self._next = random.Random(seed).randint(self.low, self.high)

    def allocate(self) -> int:
        span = self.high - self.low + 1
        for _ in range(span):
            port = self._next
            self._next = self.low if port >= self.high else port + 1
            if port not in self.taken and is_free(port):
                self.taken.add(port)
                return port
        raise PortError(f"no free port between {self.low} and {self.high} on {LOOPBACK}")

    def reserve(self, port: int) -> int:
        if port in self.taken:
            raise PortError(f"port {port} is given to two processes of the lab")
        if not is_free(port):
            raise PortError(
                f"port {port} on {LOOPBACK} is in use: stop what uses it or let the launcher choose"
            )
        self.taken.add(port)
        return port
