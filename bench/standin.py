"""Lightweight stand-in proxies: hundreds to a few thousand in one asyncio process, each speaking meshd's real
discovery protocol as mesh-proxy does, and doing nothing else.

Each stand-in has a workload certificate from meshd's CA (a key and a CSR sent to `POST /v1/certificates`
with a bootstrap token, as mesh-proxy's agent does), opens `GET /v1/discovery` over mutual TLS asking for a
heartbeat, says Hello with its Node (namespace `bench`, its own workload and id, an `app` label, an inbound
port, so meshd registers a workload for it), answers every Ping with a Pong and every Push with an Ack, and
records for each push its version, its nonce, the monotonic time it arrived and which of the watched markers
(byte strings the benchmark put in a resource) it carries. It builds no listener and compiles no route: what
the benchmark measures is meshd.

The messages are the runtime's own (`mesh_runtime.xds.protocol`: `dump` for what a stand-in sends, `load`
for what it receives). A push for 1000 services is a line of a few hundred KB, and a hundred of them arrive
at once after a change; decoding each into the codec's dataclasses would make the stand-ins, not meshd, the
slow part. So by default a push's version and nonce are read from the start of its line (the codec writes
`{"version":…,"nonce":…,` first) and the line is checked to end as a push does; a line that does not match
that shape is decoded in full with `load`. `decode=True` (`--decode`) decodes every push in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mesh_runtime.ca import Identity, build_csr, generate_key
from mesh_runtime.ca.pki import private_key_pem
from mesh_runtime.xds import Node, heartbeat
from mesh_runtime.xds.protocol import (
    MAX_MESSAGE_BYTES,
    Ack,
    Hello,
    Nack,
    Ping,
    Pong,
    ProtocolError,
    Push,
    dump,
    load,
)

NAMESPACE = "bench"
TRUST_DOMAIN = "cluster.local"
#: The bootstrap token's identity pattern: every service account in the bench namespace.
TOKEN_IDENTITY = f"{NAMESPACE}/*"
CERT_TTL_SECONDS = 6 * 3600
TIMEOUT = 30.0
#: The start of a push line as the codec writes it, and its end.
_ENVELOPE = re.compile(rb'\{"version":("(?:[^"\\]|\\.)*"),"nonce":("(?:[^"\\]|\\.)*"),')
_PUSH_END = b'"type":"push"}'


class StandInError(Exception):
    """A stand-in could not get its certificate or open its stream; the message says what meshd answered."""


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One push a stand-in received and acknowledged."""

    proxy: str
    version: str
    nonce: str
    #: monotonic time the push's last byte had arrived, and when its Ack was written.
    arrived: float
    acked: float
    #: A full config (True) or endpoints only.
    full: bool
    #: The watched markers found in the push.
    carries: tuple[bytes, ...] = ()


@dataclass
class Watch:
    """The markers pushes are searched for; shared by every stand-in of a fleet."""

    markers: list[bytes] = field(default_factory=list)

    def found_in(self, line: bytes) -> tuple[bytes, ...]:
        return tuple(marker for marker in self.markers if marker in line)


def envelope(line: bytes) -> tuple[str, str, bool] | None:
    """(version, nonce, full) of a push line in the codec's usual shape, read without decoding the config;
    None when the line is not in that shape (then it is decoded in full)."""
    match = _ENVELOPE.match(line)
    if match is None or not line.rstrip().endswith(_PUSH_END):
        return None
    version, nonce = json.loads(match.group(1)), json.loads(match.group(2))
    full = not line.startswith(b'"config":null', match.end())
    return version, nonce, full


class Session:
    """The protocol of one stand-in, without I/O: what to send, and what to answer each line meshd sends."""

    def __init__(
        self,
        node: Node,
        watch: Watch | None = None,
        *,
        decode: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self.watch = watch or Watch()
        self.decode = decode
        self.clock = clock
        self.events: list[PushEvent] = []
        self.pings = 0
        #: Why meshd ended the stream (its final Nack), or "" while it has not.
        self.refused = ""
        self.acked_version = ""

    def hello(self) -> bytes:
        return dump(Hello(self.node))

    def receive(self, line: bytes, arrived: float | None = None) -> bytes | None:
        """The line to send back for one line from meshd (None: nothing to send); ProtocolError if the line
        is not a message a proxy can be sent."""
        arrived = self.clock() if arrived is None else arrived
        fast = None if self.decode else envelope(line)
        if fast is not None:
            version, nonce, full = fast
            return self._acknowledge(line, version, nonce, full, arrived)
        message = load(line)
        if isinstance(message, Push):
            return self._acknowledge(
                line, message.version, message.nonce, message.config is not None, arrived
            )
        if isinstance(message, Ping):
            self.pings += 1
            return dump(Pong())
        if isinstance(message, Nack):
            self.refused = message.error or "meshd ended the stream"
            return None
        raise ProtocolError(f"meshd sent a {type(message).__name__.lower()}, which no proxy is sent")

    def _acknowledge(self, line: bytes, version: str, nonce: str, full: bool, arrived: float) -> bytes:
        answer = dump(Ack(version, nonce))
        carries = self.watch.found_in(line) if self.watch.markers else ()
        self.events.append(PushEvent(self.node.id, version, nonce, arrived, self.clock(), full, carries))
        self.acked_version = version
        return answer


class StreamProtocol(asyncio.Protocol):
    """One stand-in's connection: the upgrade, then NDJSON lines handed to its Session."""

    def __init__(self, session: Session, host: str, port: int) -> None:
        self.session = session
        self._request = (
            f"GET /v1/discovery HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: Upgrade\r\n"
            f"Upgrade: meshlab-xds\r\n{heartbeat.HEADER}: 1\r\n\r\n"
        ).encode()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._scanned = 0
        self._upgraded = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.error = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        heartbeat.enable_tcp_keepalive(transport.get_extra_info("socket"))
        self.transport.write(self._request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        arrived = time.monotonic()
        self._buffer += data
        if not self._upgraded and not self._upgrade():
            return
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end < 0:
                self._scanned = len(self._buffer)
                if self._scanned > MAX_MESSAGE_BYTES:
                    self._fail(f"a line from meshd is longer than {MAX_MESSAGE_BYTES} bytes")
                return
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._scanned = 0
            if not line.strip():
                continue
            try:
                answer = self.session.receive(line, arrived)
            except ProtocolError as exc:
                self._fail(f"meshd sent a bad message: {exc}")
                return
            if answer is not None and self.transport is not None and not self.transport.is_closing():
                self.transport.write(answer)

    def _upgrade(self) -> bool:
        head_end = self._buffer.find(b"\r\n\r\n")
        if head_end < 0:
            if len(self._buffer) > 65536:
                self._fail("meshd's answer to the upgrade has no end of head")
            return False
        head = bytes(self._buffer[:head_end]).decode("latin-1")
        del self._buffer[: head_end + 4]
        status_line = head.split("\r\n", 1)[0]
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "101":
            body = bytes(self._buffer).decode("utf-8", "replace").strip()
            self._fail(f"meshd did not open the discovery stream: {status_line} {body}".strip())
            return False
        self._upgraded = True
        assert self.transport is not None
        self.transport.write(self.session.hello())
        if not self.opened.done():
            self.opened.set_result(None)
        return True

    def _fail(self, error: str) -> None:
        self.error = error
        if not self.opened.done():
            self.opened.set_exception(StandInError(f"{self.session.node.id}: {error}"))
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.error:
            self.error = self.session.refused or (str(exc) if exc else "meshd closed the stream")
        if not self.opened.done():
            self.opened.set_exception(StandInError(f"{self.session.node.id}: {self.error}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# -- certificates -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    identity: Identity
    context: ssl.SSLContext


async def https_post(
    host: str, port: int, path: str, body: bytes, context: ssl.SSLContext, token: str
) -> tuple[int, bytes]:
    """One HTTP/1.1 POST over TLS, Connection: close; (status, body)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=host), TIMEOUT
    )
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        raw = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        with contextlib.suppress(Exception):
            writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise StandInError(f"meshd answered {path} with something that is not HTTP: {raw[:80]!r}") from None
    return status, payload


async def obtain(
    host: str, port: int, root_cert: Path, token: str, identity: Identity, directory: Path
) -> Credentials:
    """A key made here, a CSR with the bootstrap token, and a client TLS context with the signed chain."""
    key = generate_key()
    request = {
        "csr": build_csr(key, identity).decode(),
        "identity": identity.uri,
        "ttl_seconds": CERT_TTL_SECONDS,
    }
    anonymous = ssl.create_default_context(cafile=str(root_cert))
    status, payload = await https_post(
        host, port, "/v1/certificates", json.dumps(request).encode(), anonymous, token
    )
    if status != 200:
        raise StandInError(
            f"meshd refused the CSR for {identity.uri}: {status} {payload.decode(errors='replace')}"
        )
    chain = json.loads(payload)["cert_chain"]
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / f"{identity.service_account}.key.pem"
    chain_file = directory / f"{identity.service_account}.chain.pem"
    key_file.write_bytes(private_key_pem(key))
    key_file.chmod(0o600)
    chain_file.write_text(chain if isinstance(chain, str) else "".join(chain))
    context = ssl.create_default_context(cafile=str(root_cert))
    context.load_cert_chain(str(chain_file), str(key_file))
    return Credentials(identity, context)


# -- a fleet ----------------------------------------------------------------------------------------------


def stand_in_node(index: int, service: str, service_account: str) -> Node:
    """Stand-in number `index`, a workload of `service` (its `app` label), with its own address and ports."""
    name = f"standin-{index:04d}"
    return Node(
        id=f"{name}.{NAMESPACE}",
        type="sidecar",
        namespace=NAMESPACE,
        workload=name,
        service_account=service_account,
        labels={"app": service, "version": "v1"},
        address=f"127.1.{index // 250}.{index % 250 + 1}",
        inbound_port=15006,
        app_ports=(8080,),
        outbound_port=15001,
        admin_port=15000,
        proxy_version="bench-standin",
    )


@dataclass
class StandIn:
    session: Session
    credentials: Credentials
    protocol: StreamProtocol | None = None

    @property
    def node(self) -> Node:
        return self.session.node


class Fleet:
    """Stand-ins against one meshd. `certificates` is `per-proxy` (each stand-in makes its own key and CSR, as
    every mesh-proxy does) or `per-service` (the stand-ins of one service share a key and certificate)."""

    def __init__(
        self,
        host: str,
        port: int,
        root_cert: Path,
        token: str,
        directory: Path,
        services: Sequence[str],
        *,
        certificates: str = "per-proxy",
        decode: bool = False,
        concurrency: int = 32,
        timeout: float = TIMEOUT,
    ) -> None:
        if certificates not in ("per-proxy", "per-service"):
            raise ValueError(f"certificates: per-proxy or per-service, not {certificates!r}")
        if not services:
            raise ValueError("a fleet needs at least one service for its stand-ins to belong to")
        self.host, self.port, self.root_cert, self.token = host, port, root_cert, token
        self.directory = directory
        self.services = list(services)
        self.certificates = certificates
        self.decode = decode
        #: How long one stand-in may wait for its TLS handshake and 101 (meshd busy pushing answers late).
        self.timeout = timeout
        self.watch = Watch()
        self.stand_ins: list[StandIn] = []
        self._limit = asyncio.Semaphore(concurrency)
        self._shared: dict[str, asyncio.Task[Credentials]] = {}

    def events(self) -> list[PushEvent]:
        return [event for stand_in in self.stand_ins for event in stand_in.session.events]

    def last_arrival(self) -> float:
        """When the latest push to any stand-in arrived (monotonic; 0 before any)."""
        return max((s.session.events[-1].arrived for s in self.stand_ins if s.session.events), default=0.0)

    def ids(self) -> list[str]:
        return [stand_in.node.id for stand_in in self.stand_ins]

    def broken(self) -> list[str]:
        """Stand-ins whose stream ended, each with why (those not connected yet are not counted)."""
        return [
            f"{s.node.id}: {s.protocol.error}"
            for s in self.stand_ins
            if s.protocol is not None and s.protocol.closed.done()
        ]

    async def certify(self, count: int) -> None:
        """Certificates for `count` more stand-ins (not connected yet)."""
        start = len(self.stand_ins)
        made = await asyncio.gather(*(self._certify_one(start + i) for i in range(count)))
        self.stand_ins.extend(made)

    async def _certify_one(self, index: int) -> StandIn:
        service = self.services[index % len(self.services)]
        if self.certificates == "per-service":
            account = service
            if account not in self._shared:
                self._shared[account] = asyncio.ensure_future(self._obtain(account))
            credentials = await self._shared[account]
        else:
            account = f"standin-{index:04d}"
            credentials = await self._obtain(account)
        node = stand_in_node(index, service, account)
        return StandIn(Session(node, self.watch, decode=self.decode), credentials)

    async def _obtain(self, account: str) -> Credentials:
        identity = Identity(TRUST_DOMAIN, NAMESPACE, account)
        async with self._limit:
            return await obtain(self.host, self.port, self.root_cert, self.token, identity, self.directory)

    def opened(self) -> int:
        """How many stand-ins have their stream open (meshd answered 101)."""
        return sum(1 for s in self.stand_ins if s.protocol is not None and s.protocol.opened.done())

    async def connect(self) -> None:
        """Open the stream of every stand-in not connected yet; StandInError if meshd refuses one or does
        not answer within the fleet's timeout."""
        waiting = [s for s in self.stand_ins if s.protocol is None]
        try:
            await asyncio.gather(*(self._connect_one(s) for s in waiting))
        except (TimeoutError, OSError) as exc:
            why = f"no answer within {self.timeout:g} s" if isinstance(exc, TimeoutError) else str(exc)
            unopened = len(self.stand_ins) - self.opened()
            raise StandInError(
                f"{unopened} of {len(self.stand_ins)} stand-ins could not open their stream to meshd at "
                f"{self.host}:{self.port}: {why}"
            ) from None

    async def _connect_one(self, stand_in: StandIn) -> None:
        loop = asyncio.get_running_loop()
        async with self._limit:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: StreamProtocol(stand_in.session, self.host, self.port),
                    self.host,
                    self.port,
                    ssl=stand_in.credentials.context,
                    server_hostname=self.host,
                ),
                self.timeout,
            )
            stand_in.protocol = protocol
            await asyncio.wait_for(protocol.opened, self.timeout)

    async def close(self) -> None:
        for stand_in in self.stand_ins:
            if stand_in.protocol is not None:
                stand_in.protocol.close()
        closing = [s.protocol.closed for s in self.stand_ins if s.protocol is not None]
        if closing:
            await asyncio.wait(closing, timeout=10)
