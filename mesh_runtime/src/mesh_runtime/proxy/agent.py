"""The proxy's control-plane side (Istio's pilot-agent): certificates from meshd's CA, the discovery stream,
and the last good config kept on disk.

- Certificates: the key is generated here and never leaves the host; a CSR with the bootstrap token goes to
  `POST /v1/certificates` over TLS verified with the root bundle given (--ca-file); the chain that comes
  back is checked, written to the data dir and loaded into the mTLS contexts; renewal at half-life.
- Discovery: `GET /v1/discovery` upgraded to NDJSON with the workload certificate; Hello(node), then each
  Push is compiled and applied (Ack, and persisted) or rejected (Nack with the reason; the old config
  stays). The proxy asks for a heartbeat: it answers meshd's Pings and drops a stream on which meshd sent
  nothing for three ping intervals (`xds/heartbeat.py`). Reconnects with a jittered back-off
  (`backoff.py`) that starts over once meshd accepted the stream; meanwhile requests keep flowing on the
  config in service.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from mesh_runtime import xds
from mesh_runtime.ca.client import (
    VerificationError,
    build_csr,
    generate_key,
    renewal_delay,
    verify_cert_chain,
    write_credentials,
)
from mesh_runtime.ca.files import PRIVATE_FILE_MODE, ensure_private_directory, write_atomically
from mesh_runtime.ca.identity import Identity
from mesh_runtime.xds import heartbeat, protocol

from .backoff import Backoff
from .router import ConfigError
from .server import ProxyRuntime
from .tls import CredentialFiles

log = logging.getLogger("mesh_runtime.proxy.agent")

CONFIG_FILE = "config.json"
CERT_TTL_SECONDS = 24 * 3600
_BACKOFF_START = 0.5
_REQUEST_TIMEOUT = 10.0


class ControlPlaneError(Exception):
    """meshd answered, but not with what the proxy needs; the message says what it answered."""


# ---------------------------------------------------------------------------------------------- config file


def load_config_file(path: Path) -> xds.ProxyConfig:
    """A ProxyConfig from JSON: the codec's form, or the `{version, config}` form the proxy persists."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from None
    if isinstance(data, dict) and "config" in data and "listeners" not in data:
        data = data["config"]
    try:
        return xds.decode(xds.ProxyConfig, data)
    except xds.DecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def save_config(directory: Path, config: xds.ProxyConfig) -> None:
    ensure_private_directory(directory)
    body = json.dumps({"version": config.version, "config": xds.encode(config)}, separators=(",", ":"))
    write_atomically(directory / CONFIG_FILE, body.encode(), PRIVATE_FILE_MODE)


# ---------------------------------------------------------------------------------------------- the agent


@dataclasses.dataclass
class AgentSettings:
    discovery_host: str
    discovery_port: int
    data_dir: Path
    ca_file: Path
    token_file: Path | None
    identity: Identity
    cert_ttl_seconds: int = CERT_TTL_SECONDS


class Agent:
    def __init__(self, runtime: ProxyRuntime, settings: AgentSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.files = CredentialFiles.in_directory(settings.data_dir, settings.ca_file)
        self.connected = False
        self.acked_version = ""
        self._certificate: x509.Certificate | None = None
        self._certificate_ready = asyncio.Event()
        self.reconnect = Backoff()

    # -- certificates ------------------------------------------------------------------------------------

    def load_saved_certificate(self) -> bool:
        """Use the certificate in the data dir when it is still good for this identity."""
        directory = self.settings.data_dir
        chain_path = directory / "cert-chain.pem"
        if not (chain_path.is_file() and (directory / "key.pem").is_file()):
            return False
        try:
            pems = _split_pem(chain_path.read_text(encoding="ascii"))
            certificate = verify_cert_chain(pems, self.settings.ca_file.read_bytes(), self.settings.identity)
        except (OSError, ValueError, VerificationError) as exc:
            log.info("not using the saved certificate: %s", exc)
            return False
        if renewal_delay(certificate.leaf).total_seconds() <= 0:
            return False
        self._use_files(certificate.leaf)
        return True

    async def certificate_loop(self) -> None:
        """Keep a valid certificate: get one, renew at half-life, retry with back-off on failure."""
        delay = _BACKOFF_START
        while True:
            if self._certificate is not None:
                wait = renewal_delay(self._certificate).total_seconds()
                await asyncio.sleep(wait)
            try:
                await self.request_certificate()
                delay = _BACKOFF_START
            except (TimeoutError, OSError, ControlPlaneError, VerificationError, ValueError) as exc:
                log.warning("certificate request to meshd failed: %s (retrying in %.1fs)", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def request_certificate(self) -> None:
        settings = self.settings
        key = generate_key()
        csr = build_csr(key, settings.identity).decode("ascii")
        body = json.dumps(
            {"csr": csr, "identity": settings.identity.uri, "ttl_seconds": settings.cert_ttl_seconds}
        ).encode()
        headers = {"Content-Type": "application/json"}
        if settings.token_file is not None:
            token = settings.token_file.read_text(encoding="utf-8").strip()
            headers["Authorization"] = f"Bearer {token}"
        status, reply = await self._request(
            "POST", "/v1/certificates", body, headers, self._anonymous_context()
        )
        if status != 200:
            raise ControlPlaneError(f"meshd refused the certificate request: {status} {_error_text(reply)}")
        try:
            chain = json.loads(reply)["cert_chain"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ControlPlaneError(f"meshd's certificate response is not understood: {exc}") from None
        trust_bundle = settings.ca_file.read_text(encoding="ascii")
        certificate = verify_cert_chain(chain, trust_bundle, settings.identity, key=key)
        write_credentials(settings.data_dir, key, certificate, trust_bundle)
        self._use_files(certificate.leaf)
        log.info("workload certificate for %s valid until %s", settings.identity, certificate.not_after)

    def _use_files(self, certificate: x509.Certificate) -> None:
        self.files = CredentialFiles.in_directory(self.settings.data_dir, self.settings.ca_file)
        self.runtime.load_credentials(self.files, self.settings.identity.uri)
        self._certificate = certificate
        self._certificate_ready.set()

    # -- discovery ---------------------------------------------------------------------------------------

    async def discovery_loop(self) -> None:
        """Stay connected to meshd's discovery stream, reconnecting with jittered back-off."""
        await self._certificate_ready.wait()
        while True:
            try:
                await self._stream()
                problem = "meshd closed the discovery stream"
            except (TimeoutError, OSError, ControlPlaneError, protocol.ProtocolError, ValueError) as exc:
                problem = str(exc) or type(exc).__name__
            finally:
                self.connected = False
            wait = self.reconnect.next_wait()
            log.warning("discovery stream to meshd: %s (reconnecting in %.1fs)", problem, wait)
            await asyncio.sleep(wait)

    async def _stream(self) -> None:
        reader, writer = await self._connect()
        try:
            silence_limit = await self._open(reader, writer)
            await self._follow(reader, writer, silence_limit)
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        settings = self.settings
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                settings.discovery_host,
                settings.discovery_port,
                ssl=self._client_context(),
                server_hostname=settings.discovery_host,
                limit=protocol.MAX_MESSAGE_BYTES,
            ),
            _REQUEST_TIMEOUT,
        )
        heartbeat.enable_tcp_keepalive(writer.get_extra_info("socket"))
        return reader, writer

    async def _open(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float | None:
        """Upgrade to the stream (asking for a heartbeat) and say Hello; how long meshd may stay silent
        (None: meshd keeps no heartbeat)."""
        settings = self.settings
        writer.write(
            f"GET /v1/discovery HTTP/1.1\r\nHost: {settings.discovery_host}:{settings.discovery_port}\r\n"
            f"Connection: Upgrade\r\nUpgrade: meshlab-xds\r\n{heartbeat.HEADER}: 1\r\n\r\n".encode()
        )
        status, head = await asyncio.wait_for(_read_head(reader), _REQUEST_TIMEOUT)
        if status != 101:
            body = await asyncio.wait_for(_read_body(reader, head), _REQUEST_TIMEOUT)
            raise ControlPlaneError(f"meshd did not open the discovery stream: {status} {_error_text(body)}")
        writer.write(protocol.dump(protocol.Hello(self.runtime.node)))
        await writer.drain()
        self.connected = True
        interval = heartbeat.parse_interval(head.get(heartbeat.HEADER.lower()))
        if interval is None:
            log.info("discovery stream to meshd open")
            return None
        heartbeat.enable_tcp_keepalive(writer.get_extra_info("socket"), interval)
        log.info("discovery stream to meshd open (heartbeat every %gs)", interval)
        return heartbeat.silence_limit(interval)

    async def _follow(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, silence_limit: float | None
    ) -> None:
        """Apply each push and answer it, answer each Ping, until the stream ends (always by an exception)."""
        while True:
            message = protocol.load(await _next_line(reader, silence_limit))
            if isinstance(message, protocol.Push):
                writer.write(protocol.dump(await self.handle_push(message)))
                await writer.drain()
                self.reconnect.reset()  # meshd accepted this stream
            elif isinstance(message, protocol.Ping):
                writer.write(protocol.dump(protocol.Pong()))
                await writer.drain()
            elif isinstance(message, protocol.Nack):
                raise ControlPlaneError(f"meshd ended the stream: {message.error}")

    async def handle_push(self, push: protocol.Push) -> protocol.Ack | protocol.Nack:
        """Apply a push; the answer to send back."""
        runtime = self.runtime
        if push.config is not None:
            config = dataclasses.replace(push.config, version=push.version)
        elif runtime.compiled is None:
            return protocol.Nack(push.version, push.nonce, "an endpoint update arrived before any config")
        else:
            config = _with_endpoints(runtime.compiled.config, push.endpoints, push.version)
        try:
            await runtime.apply(config)
        except ConfigError as exc:
            return protocol.Nack(push.version, push.nonce, str(exc))
        self.acked_version = push.version
        try:
            save_config(self.settings.data_dir, config)
        except OSError as exc:
            log.warning("cannot keep the config on disk: %s", exc)
        return protocol.Ack(push.version, push.nonce)

    # -- plumbing ----------------------------------------------------------------------------------------

    def _anonymous_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.settings.ca_file))
        return context

    def _client_context(self) -> ssl.SSLContext:
        context = self._anonymous_context()
        context.load_cert_chain(str(self.files.cert_chain), str(self.files.key))
        return context

    async def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str], context: ssl.SSLContext
    ) -> tuple[int, bytes]:
        settings = self.settings
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                settings.discovery_host,
                settings.discovery_port,
                ssl=context,
                server_hostname=settings.discovery_host,
            ),
            _REQUEST_TIMEOUT,
        )
        try:
            lines = [
                f"{method} {path} HTTP/1.1",
                f"Host: {settings.discovery_host}:{settings.discovery_port}",
            ]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode() + body)
            status, head = await asyncio.wait_for(_read_head(reader), _REQUEST_TIMEOUT)
            reply = await asyncio.wait_for(_read_body(reader, head), _REQUEST_TIMEOUT)
            return status, reply
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def _with_endpoints(
    config: xds.ProxyConfig, updates: tuple[xds.ClusterLoadAssignment, ...], version: str
) -> xds.ProxyConfig:
    changed = {assignment.cluster: assignment for assignment in updates}
    endpoints = [changed.pop(assignment.cluster, assignment) for assignment in config.endpoints]
    endpoints += changed.values()
    return dataclasses.replace(config, endpoints=tuple(endpoints), version=version)


async def _next_line(reader: asyncio.StreamReader, silence_limit: float | None) -> bytes:
    """The next message's line; ControlPlaneError when the stream ended, or stayed silent too long."""
    try:
        line = await asyncio.wait_for(reader.readline(), silence_limit)
    except TimeoutError:
        raise ControlPlaneError(f"meshd sent nothing for {silence_limit:g}s: the stream is dead") from None
    if not line:
        raise ControlPlaneError("meshd closed the discovery stream")
    return line


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ControlPlaneError(f"meshd sent a malformed response line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return body
            body += await reader.readexactly(size)
            await reader.readline()
    return await reader.read()


def _error_text(body: bytes) -> str:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return body[:200].decode("utf-8", "replace")


def _split_pem(text: str) -> list[str]:
    marker = "-----END CERTIFICATE-----"
    return [part + marker + "\n" for part in text.split(marker) if "-----BEGIN CERTIFICATE-----" in part]


def seconds_until(moment: datetime) -> float:
    return (moment - datetime.now(UTC)).total_seconds()
