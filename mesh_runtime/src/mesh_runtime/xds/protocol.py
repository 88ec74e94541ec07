"""The discovery stream between a proxy and meshd: newline-delimited JSON messages over mutual TLS.

The proxy opens the stream with `Hello` (its Node). meshd answers with `Push` messages, each a full
ProxyConfig or, for endpoint-only changes, just the changed ClusterLoadAssignments; every push carries a
version and a nonce, and the proxy answers `Ack` once it serves that version or `Nack` with the reason
(and keeps serving its last good config), as Envoy's xDS does.

On a stream both sides agreed to keep alive (`heartbeat.py`), meshd also sends `Ping` every few seconds and
the proxy answers `Pong`: a stream on which nothing arrives for a while is dead, FIN or no FIN. Neither is
sent to a peer that did not ask for them, so older proxies and older meshds never see one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from .codec import DecodeError, decode, encode
from .types import ClusterLoadAssignment, Node, ProxyConfig

#: A message longer than this is a protocol error (a config for thousands of services fits easily).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Hello:
    node: Node


@dataclass(frozen=True, slots=True)
class Push:
    version: str
    nonce: str
    config: ProxyConfig | None = None
    #: Endpoint-only update: replaces these clusters' endpoints in the current config.
    endpoints: tuple[ClusterLoadAssignment, ...] = ()


@dataclass(frozen=True, slots=True)
class Ack:
    version: str
    nonce: str


@dataclass(frozen=True, slots=True)
class Nack:
    version: str
    nonce: str
    error: str


@dataclass(frozen=True, slots=True)
class Ping:
    """meshd: are you there? (only on a stream with a heartbeat)"""


@dataclass(frozen=True, slots=True)
class Pong:
    """The proxy: here (the answer to a Ping)."""


Message = Hello | Push | Ack | Nack | Ping | Pong
_TYPES: dict[str, Any] = {"hello": Hello, "push": Push, "ack": Ack, "nack": Nack, "ping": Ping, "pong": Pong}
_NAMES: dict[type, str] = {cls: name for name, cls in _TYPES.items()}
MessageType = Literal["hello", "push", "ack", "nack", "ping", "pong"]


class ProtocolError(ValueError):
    pass


def dump(message: Message) -> bytes:
    """One message as a line of JSON, newline-terminated."""
    body = encode(message)
    body["type"] = _NAMES[type(message)]
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def load(line: bytes) -> Message:
    """Parse one line; ProtocolError naming what is wrong otherwise."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(line)} bytes is larger than {MAX_MESSAGE_BYTES}")
    try:
        body = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("type") not in _TYPES:
        raise ProtocolError("a message must be an object whose type is hello, push, ack, nack, ping or pong")
    cls = _TYPES[body.pop("type")]
    try:
        return decode(cls, body)  # type: ignore[no-any-return]
    except DecodeError as exc:
        raise ProtocolError(str(exc)) from exc
