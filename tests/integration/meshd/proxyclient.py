"""A fake proxy that speaks to meshd as mesh-proxy does: key and CSR, certificate, discovery stream.

Blocking sockets and the standard library only, so the test exercises meshd and nothing of the real proxy.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_runtime.ca import Identity, build_csr, generate_key, verify_cert_chain
from mesh_runtime.ca.pki import private_key_pem
from mesh_runtime.xds import Node
from mesh_runtime.xds.protocol import Ack, Hello, Message, Nack, dump, load

TIMEOUT = 15.0


def https_request(
    address: tuple[str, int],
    method: str,
    path: str,
    root_cert: Path,
    body: Any = None,
    token: str | None = None,
    client_cert: tuple[Path, Path] | None = None,
) -> tuple[int, Any]:
    """One HTTP/1.1 request over TLS (meshd's certificate checked against `root_cert`)."""
    context = ssl.create_default_context(cafile=str(root_cert))
    if client_cert is not None:
        context.load_cert_chain(*client_cert)
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    head += f"Content-Length: {len(payload)}\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    with (
        socket.create_connection(address, timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(head.encode() + b"\r\n" + payload)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    _, _, body_bytes = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(body_bytes) if body_bytes else None


@dataclass
class Credentials:
    identity: Identity
    key_file: Path
    chain_file: Path


def obtain_certificate(
    address: tuple[str, int], root_cert: Path, token: str, identity: Identity, directory: Path
) -> Credentials:
    key = generate_key()
    status, body = https_request(
        address,
        "POST",
        "/v1/certificates",
        root_cert,
        {"csr": build_csr(key, identity).decode(), "identity": identity.uri, "ttl_seconds": 3600},
        token=token,
    )
    assert status == 200, body
    certificate = verify_cert_chain(body["cert_chain"], root_cert.read_text(), identity, key=key)
    directory.mkdir(parents=True, exist_ok=True)
    key_file, chain_file = directory / "key.pem", directory / "cert-chain.pem"
    key_file.write_bytes(private_key_pem(key))
    chain_file.write_text(certificate.cert_chain_pem())
    return Credentials(identity, key_file, chain_file)


class DiscoveryStream:
    """The proxy end of the discovery stream: TLS with the workload's certificate, upgraded, NDJSON."""

    def __init__(self, address: tuple[str, int], root_cert: Path, credentials: Credentials | None) -> None:
        context = ssl.create_default_context(cafile=str(root_cert))
        if credentials is not None:
            context.load_cert_chain(credentials.chain_file, credentials.key_file)
        raw = socket.create_connection(address, timeout=TIMEOUT)
        self.socket = context.wrap_socket(raw, server_hostname="localhost")
        self.reader = self.socket.makefile("rb")

    def upgrade(self) -> tuple[int, bytes]:
        """Ask for the stream; (status, head) of meshd's answer."""
        self.socket.sendall(
            b"GET /v1/discovery HTTP/1.1\r\nHost: localhost\r\n"
            b"Connection: Upgrade\r\nUpgrade: meshlab-xds\r\n\r\n"
        )
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.reader.readline()
            if not line:
                break
            head += line
        status = int(head.split(b" ", 2)[1]) if head else 0
        return status, head

    def send(self, message: Message) -> None:
        self.socket.sendall(dump(message))

    def hello(self, node: Node) -> None:
        self.send(Hello(node))

    def receive(self) -> Message:
        line = self.reader.readline()
        if not line:
            raise EOFError("meshd closed the stream")
        return load(line)

    def ack(self, version: str, nonce: str) -> None:
        self.send(Ack(version, nonce))

    def nack(self, version: str, nonce: str, error: str) -> None:
        self.send(Nack(version, nonce, error))

    def closed_by_peer(self) -> bool:
        try:
            return self.reader.readline() == b""
        except (OSError, ssl.SSLError):
            return True

    def close(self) -> None:
        self.reader.close()
        self.socket.close()
