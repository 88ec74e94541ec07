"""A transport that records what is written: enough for handlers and protocols that do not need sockets."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from mesh_runtime.meshd.http import Request


class FakeTransport:
    def __init__(self, peercert: dict[str, Any] | None = None) -> None:
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.extra: dict[str, Any] = {"peercert": peercert}

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def lines(self) -> list[bytes]:
        return [line for line in bytes(self.written).split(b"\n") if line]


def peer_certificate(uri: str) -> dict[str, Any]:
    """What ssl.getpeercert() gives for a workload certificate."""
    return {"subject": (), "subjectAltName": (("URI", uri),)}


def request(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    token: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    transport: FakeTransport | None = None,
) -> Request:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    return Request(
        method=method,
        path=path,
        query=query or {},
        headers=all_headers,
        body=body,
        transport=cast(asyncio.Transport, transport or FakeTransport()),
    )
