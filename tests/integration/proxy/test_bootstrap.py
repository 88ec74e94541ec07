"""mesh-proxy's bootstrap against a stand-in for meshd's port 15012 (the real meshd is tested on its own):
key made locally, CSR with the bootstrap token, discovery stream with the issued certificate, Hello, Push,
Ack, the config kept on disk; then a restart with meshd gone serves from what was kept."""

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mesh_runtime import xds
from mesh_runtime.ca import CertificateAuthority, Identity
from mesh_runtime.xds import protocol

from .conftest import Proxy, free_port, stop

TOKEN = "bootstrap-token-for-tests"


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
    """Just enough of meshd's 15012: POST /v1/certificates and the discovery stream (one push)."""

    authority: CertificateAuthority
    config: xds.ProxyConfig
    port: int = 0
    received: list[protocol.Message] = field(default_factory=list)
    certificate_requests: int = 0
    peer_identities: list[str] = field(default_factory=list)

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
            peer = writer.get_extra_info("peercert") or {}
            self.peer_identities += [v for k, v in peer.get("subjectAltName", ()) if k == "URI"]
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: meshlab-xds\r\n\r\n"
            )
            self.received.append(protocol.load(await reader.readline()))
            writer.write(protocol.dump(protocol.Push("v1", "n1", self.config)))
            await writer.drain()
            self.received.append(protocol.load(await reader.readline()))
            await reader.read()  # stay connected until the proxy goes
        await writer.drain()
        writer.close()


@pytest.fixture
def meshd(tmp_path: Path) -> Iterator[tuple[FakeMeshd, Path]]:
    authority = CertificateAuthority.load_or_create(tmp_path / "ca")
    cert, key, serving_root = serving_credentials(tmp_path)
    bundle = tmp_path / "root-bundle.pem"
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
    yield fake, bundle
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
    deadline = time.monotonic() + 20
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


def test_bootstrap_discovery_and_restart_without_meshd(tmp_path: Path, meshd: tuple[FakeMeshd, Path]) -> None:
    fake, bundle = meshd
    proxy = start(tmp_path, fake.port, bundle)
    try:
        wait_for_version(proxy, "v1")
        deadline = time.monotonic() + 10
        while len(fake.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop(proxy)
    assert fake.certificate_requests == 1
    assert fake.peer_identities == ["spiffe://cluster.local/ns/default/sa/a"]  # the stream used the new cert
    hello, ack = fake.received
    assert (
        isinstance(hello, protocol.Hello)
        and hello.node.service_account == "a"
        and hello.node.id == "a.default"
    )
    assert ack == protocol.Ack("v1", "n1")
    data = tmp_path / "data"
    assert (data / "key.pem").stat().st_mode & 0o077 == 0
    assert json.loads((data / "config.json").read_text())["version"] == "v1"

    # meshd is gone: the proxy starts from the certificate and the config it kept.
    again = start(tmp_path, free_port(), bundle)
    try:
        dump = wait_for_version(again, "v1")
        assert dump["config"] is not None
    finally:
        stop(again)
    assert fake.certificate_requests == 1
