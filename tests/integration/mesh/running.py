"""The Bookinfo mesh under test: the launcher's lab, plus what the tests do to it from outside.

Everything goes through real processes and sockets: pages are fetched through the ingress gateway, meshctl
runs as a process against the lab's meshd, certificates are asked from meshd's CA with a bootstrap token as a
workload would, TLS is spoken to the sidecars' inbound ports directly.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mesh_runtime.ca import Identity, build_csr, generate_key, verify_cert_chain, write_credentials
from mesh_runtime.launcher import Lab

T = TypeVar("T")
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
STARS = re.compile(r'<span class="stars" data-color="(\w+)"')
WAIT = 60.0


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Page:
    status: int
    body: str

    @property
    def has_details(self) -> bool:
        return "<h2>Book Details</h2>" in self.body and "William Shakespeare" in self.body

    @property
    def has_reviews(self) -> bool:
        return "<h2>Book Reviews</h2>" in self.body and "Reviewer1" in self.body

    @property
    def stars(self) -> str:
        """`none` (reviews v1), `black` (v2) or `red` (v3): the colour of the page's stars."""
        colours = set(STARS.findall(self.body))
        if not colours:
            return "none"
        assert len(colours) == 1, f"stars of several colours on one page: {colours}"
        return colours.pop()

    def ok(self) -> bool:
        return self.status == 200 and self.has_details and self.has_reviews


def executable(name: str, module: str) -> list[str]:
    beside = Path(sys.executable).parent / name
    return [str(beside)] if beside.exists() else [sys.executable, "-m", module]


def poll(what: str, probe: Callable[[], T | None], timeout: float = WAIT, interval: float = 0.1) -> T:
    """The first non-None, non-False result of `probe`; fails after `timeout` (no assertion on time)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except OSError as exc:
            last = exc
        else:
            if last is not None and last is not False:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up waiting for {what}; last: {last!r}")
        time.sleep(interval)


@dataclass
class Mesh:
    lab: Lab

    # -- the page ------------------------------------------------------------------------------------------

    def page(self, path: str = "/productpage") -> Page:
        try:
            with DIRECT.open(self.lab.gateway_url() + path, timeout=30) as reply:
                return Page(int(reply.status), reply.read().decode())
        except urllib.error.HTTPError as error:
            return Page(error.code, error.read().decode(errors="replace"))

    def wait_for_page(self) -> Page:
        return poll("the page through the gateway", lambda: (page := self.page()).ok() and page)

    # -- meshctl and meshd ---------------------------------------------------------------------------------

    def meshctl(self, *argv: str, stdin: str = "") -> Result:
        process = subprocess.run(
            [*executable("meshctl", "mesh_runtime.cli"), *argv, *self.lab.meshctl_flags(argv[0])],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env=_environment(),
        )
        return Result(process.returncode, process.stdout, process.stderr)

    def apply(self, *files: Path) -> Result:
        result = self.meshctl("apply", *(arg for f in files for arg in ("-f", str(f))))
        assert result.code == 0, result
        return result

    def delete(self, *files: Path) -> None:
        result = self.meshctl("delete", *(arg for f in files for arg in ("-f", str(f))))
        assert result.code == 0, result

    def wait_synced(self, proxies: list[str] | None = None) -> None:
        """After a write: the proxies acknowledged a config at least as new as the store (no sleeping)."""
        self.lab.wait_synced(self.lab.store_revision(), proxies, timeout=WAIT)

    def sidecars(self, namespace: str = "default") -> list[str]:
        return [
            i for i, w in self.lab.workloads.items() if w.proxy is not None and w.spec.namespace == namespace
        ]

    def token(self, identity: str) -> str:
        process = subprocess.run(
            [*executable("meshd", "mesh_runtime.meshd"), "token", "create"]
            + ["--data-dir", str(self.lab.meshd_dir), "--identity", identity],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=_environment(),
        )
        return process.stdout.strip()

    def workload_certificate(self, namespace: str, service_account: str, directory: Path) -> Identity:
        """A certificate for a workload of our own, asked of meshd's CA (15012) with a bootstrap token."""
        identity = Identity(self.lab.spec.trust_domain, namespace, service_account)
        token = self.token(f"{namespace}/{service_account}")
        key = generate_key()
        body = json.dumps({"csr": build_csr(key, identity).decode(), "identity": identity.uri}).encode()
        ports = self.lab.meshd_ports
        assert ports is not None
        request = urllib.request.Request(
            f"https://127.0.0.1:{ports.discovery}/v1/certificates",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        context = ssl.create_default_context(cafile=str(self.lab.root_cert))
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        with opener.open(request, timeout=30) as reply:
            chain = json.loads(reply.read())["cert_chain"]
        trust_bundle = self.lab.root_cert.read_text()
        certificate = verify_cert_chain(chain, trust_bundle, identity, key=key)
        write_credentials(directory, key, certificate, trust_bundle)
        return identity

    # -- the wire ------------------------------------------------------------------------------------------

    def inbound_port(self, proxy_id: str) -> int:
        return self.lab.workloads[proxy_id].inbound_port

    def plaintext_exchange(self, port: int, request: bytes) -> bytes:
        """Send a plaintext HTTP request to 127.0.0.1:port; whatever came back before the connection ended."""
        received = b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            try:
                while chunk := sock.recv(65536):
                    received += chunk
            except (ConnectionResetError, TimeoutError):
                pass
        return received

    def tls_exchange(self, port: int, context: ssl.SSLContext, request: bytes = b"") -> tuple[bytes, bytes]:
        """A TLS connection to 127.0.0.1:port: the server's certificate (DER) and the answer to `request`."""
        received = b""
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
            assert der is not None
            if request:
                tls.sendall(request)
                try:
                    while chunk := tls.recv(65536):
                        received += chunk
                except (ConnectionResetError, TimeoutError, ssl.SSLError):
                    pass
        return der, received

    def mesh_tls_context(self, credentials: Path | None = None) -> ssl.SSLContext:
        """Trusts meshd's root only; presents the workload certificate in `credentials` when given."""
        context = ssl.create_default_context(cafile=str(self.lab.root_cert))
        context.check_hostname = False  # SPIFFE identities are URI SANs, checked by the tests themselves
        if credentials is not None:
            context.load_cert_chain(credentials / "cert-chain.pem", credentials / "key.pem")
        return context

    def outbound_get(self, proxy_id: str, url: str) -> tuple[int, bytes]:
        """GET `url` as the workload's app does: through its sidecar's outbound port (its HTTP_PROXY)."""
        port = self.lab.workloads[proxy_id].outbound_port
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"})
        )
        try:
            with opener.open(url, timeout=30) as reply:
                return int(reply.status), reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MESHCTL_", "MESHD_"))}
