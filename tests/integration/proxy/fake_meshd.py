"""A stand-in for meshd's port 15012 (the real meshd is tested on its own), for tests of mesh-proxy's side:
`POST /v1/certificates` signed by a real mesh CA, and discovery streams that each behave as the test says
(`FakeMeshd.streams`), over real TLS on loopback; and the mesh-proxy process pointed at it.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mesh_runtime import xds
from mesh_runtime.ca import CertificateAuthority, Identity
from mesh_runtime.xds import protocol

from .conftest import Proxy, free_port

TOKEN = "bootstrap-token-for-tests"
#: What one discovery stream does: `serve` (Hello, one Push, its Ack, then stay until the proxy goes),
#: `refuse` (503, no stream), `end` (as `serve`, then meshd closes the stream after the Ack); with a
#: heartbeat of HEARTBEAT seconds, `ping` (as `serve`, then PINGS Pings, each waiting for its Pong) and
#: `silent` (as `serve`, then never a Ping: as a meshd whose host is gone).
StreamBehaviour = Literal["serve", "refuse", "end", "ping", "silent"]
WAIT = 20.0
HEARTBEAT = 0.2
PINGS = 3
UPGRADED = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: meshlab-xds\r\n"


def serving_credentials(directory: Path) -> tuple[Path, Path, bytes]:
    """A throwaway root and a serving certificate for 127.0.0.1 (meshd's own, not the mesh CA's)."""
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshd serving root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshd")]))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(root_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "serving.pem", directory / "serving-key.pem"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, root.public_bytes(serialization.Encoding.PEM)


@dataclass
class FakeMeshd:
    """Just enough of meshd's 15012: certificates, and discovery streams that do what `streams` says."""

    authority: CertificateAuthority
    config: xds.ProxyConfig
    port: int = 0
    received: list[protocol.Message] = field(default_factory=list)
    certificate_requests: int = 0
    peer_identities: list[str] = field(default_factory=list)
    #: What each discovery stream does, in order; past the end, the last one again.
    streams: list[StreamBehaviour] = field(default_factory=lambda: ["serve"])
    #: Discovery streams asked for so far.
    attempts: int = 0
    #: The Meshlab-Heartbeat header of each discovery request ("" without one).
    heartbeat_requests: list[str] = field(default_factory=list)
    pongs: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        request_line, *lines = head.split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)
        }
        method, path, _ = request_line.split(" ")
        if method == "POST" and path == "/v1/certificates":
            body = json.loads(await reader.readexactly(int(headers["content-length"])))
            self.certificate_requests += 1
            if headers.get("authorization") != f"Bearer {TOKEN}":
                reply, status = {"error": "bad token"}, "401 Unauthorized"
            else:
                chain = self.authority.sign_csr(body["csr"], [Identity.parse(body["identity"])])
                reply, status = {"cert_chain": chain.cert_chain}, "200 OK"
            data = json.dumps(reply).encode()
            writer.write(f"HTTP/1.1 {status}\r\ncontent-length: {len(data)}\r\n\r\n".encode() + data)
        elif path == "/v1/discovery":
            self.heartbeat_requests.append(headers.get("meshlab-heartbeat", ""))
            await self.discovery(reader, writer)
        await writer.drain()
        writer.close()

    async def discovery(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        behaviour = self.streams[min(self.attempts, len(self.streams) - 1)]
        self.attempts += 1
        if behaviour == "refuse":
            data = b'{"error":"not now"}'
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: %d\r\n\r\n" % len(data) + data)
            return
        peer = writer.get_extra_info("peercert") or {}
        self.peer_identities += [v for k, v in peer.get("subjectAltName", ()) if k == "URI"]
        heartbeat = behaviour in ("ping", "silent")
        writer.write(UPGRADED + (b"Meshlab-Heartbeat: %g\r\n" % HEARTBEAT if heartbeat else b"") + b"\r\n")
        self.received.append(protocol.load(await reader.readline()))
        writer.write(protocol.dump(protocol.Push("v1", "n1", self.config)))
        await writer.drain()
        self.received.append(protocol.load(await reader.readline()))
        if behaviour == "ping":
            await self.ping(reader, writer)
        if behaviour != "end":
            await reader.read()  # stay connected (and silent) until the proxy goes

    async def ping(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(PINGS):
            await asyncio.sleep(HEARTBEAT)
            writer.write(protocol.dump(protocol.Ping()))
            await writer.drain()
            if isinstance(protocol.load(await reader.readline()), protocol.Pong):
                self.pongs += 1

    def wait_for_attempts(self, count: int) -> None:
        self.wait_for(lambda: self.attempts >= count, f"{count} discovery streams")

    def wait_for(self, condition: Callable[[], bool], what: str = "the proxy") -> None:
        deadline = time.monotonic() + WAIT * 2
        while not condition():
            assert time.monotonic() < deadline, (
                f"gave up waiting for {what} ({self.attempts} streams, {self.pongs} pongs)"
            )
            time.sleep(0.05)


@contextmanager
def running_fake_meshd(directory: Path) -> Iterator[tuple[FakeMeshd, Path]]:
    """A FakeMeshd serving on a loopback port (its own thread and loop), and the root bundle to trust."""
    authority = CertificateAuthority.load_or_create(directory / "ca")
    cert, key, serving_root = serving_credentials(directory)
    bundle = directory / "root-bundle.pem"
    bundle.write_bytes(serving_root + authority.trust_bundle().encode())
    outbound = xds.Listener("outbound", "outbound", "127.0.0.1", free_port())
    node = xds.Node(id="a.default", type="sidecar", namespace="default", workload="a", service_account="a")
    fake = FakeMeshd(authority, xds.ProxyConfig("ignored", node, listeners=(outbound,)))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cadata=authority.trust_bundle())
    context.verify_mode = ssl.CERT_OPTIONAL  # the certificate request comes before the proxy has one
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def serve() -> None:
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0, ssl=context)
        fake.port = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await server.serve_forever()

    def run() -> None:
        task = loop.create_task(serve())
        loop.run_forever()
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield fake, bundle
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def start(tmp_path: Path, discovery_port: int, bundle: Path) -> Proxy:
    (tmp_path / "token").write_text(TOKEN + "\n")
    admin_port = free_port()
    log = tmp_path / f"proxy-{admin_port}.log"
    command = [
        sys.executable, "-m", "mesh_runtime.proxy", "sidecar", "--namespace=default", "--workload=a",
        "--service-account=a", f"--admin-port={admin_port}", f"--discovery=127.0.0.1:{discovery_port}",
        f"--ca-file={bundle}", f"--token-file={tmp_path / 'token'}", f"--data-dir={tmp_path / 'data'}",
        "--drain-seconds=1",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    return Proxy("a", process, admin_port, log)


def wait_for_version(proxy: Proxy, version: str) -> dict[str, object]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert proxy.process.poll() is None, proxy.log.read_text()
        try:
            if proxy.admin("/healthz/ready").strip() == "LIVE":
                dump: dict[str, object] = json.loads(proxy.admin("/config_dump"))
                if dump["version"] == version:
                    return dump
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not serving {version}: {proxy.log.read_text()}")
