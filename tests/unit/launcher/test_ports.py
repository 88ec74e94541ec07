"""Free ports below the ephemeral range, each handed out once, and the free/taken checks."""

from __future__ import annotations

import socket

import pytest

from mesh_runtime.launcher.ports import (
    LOOPBACK,
    PortAllocator,
    PortError,
    ephemeral_start,
    is_free,
    is_listening,
)


def test_ports_are_distinct_free_and_below_the_ephemeral_range() -> None:
    allocator = PortAllocator(seed=1)
    ports = [allocator.allocate() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(allocator.low <= p < ephemeral_start() for p in ports)
    assert all(is_free(p) for p in ports)


def test_a_listening_port_is_neither_free_nor_handed_out() -> None:
    # A port below the ephemeral range: no other connection on this machine can be using it as its source.
    port = PortAllocator(seed=3).allocate()
    with socket.socket() as listener:
        listener.bind((LOOPBACK, port))
        listener.listen()
        assert not is_free(port) and is_listening(port)
        allocator = PortAllocator(low=port, high=port + 2, seed=0)
        allocator._next = port  # start the search at the taken port
        assert allocator.allocate() != port
        with pytest.raises(PortError, match=f"port {port} on 127.0.0.1 is in use"):
            allocator.reserve(port)
    assert is_free(port) and not is_listening(port)


def test_a_port_is_reserved_once() -> None:
    allocator = PortAllocator(seed=2)
    port = allocator.allocate()
    with pytest.raises(PortError, match="given to two processes"):
        allocator.reserve(port)


def test_an_exhausted_range_is_an_error() -> None:
    allocator = PortAllocator(low=30001, high=30003, seed=0)
    taken = [allocator.allocate() for _ in range(2)]
    assert sorted(taken) == [30001, 30002] or all(not is_free(p) or p in taken for p in (30001, 30002))
    with pytest.raises(PortError, match="no free port between 30001 and 30002"):
        allocator.allocate()
