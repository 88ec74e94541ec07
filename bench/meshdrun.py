"""A meshd for a control-plane benchmark: its own temporary data directory, free loopback ports, warnings
only in its log, pinned to the measured CPU; the Services the benchmark applies; and the config API calls
the benchmarks make (through the runtime's own client, `mesh_runtime.configapi.client`).

Also what a benchmark that runs stand-ins in its own process needs and `bench/common.py` does not have:
pinning the current process to a CPU, and a file-descriptor limit high enough for thousands of streams.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_runtime.configapi.client import ApiClient, ApiResponse

from . import common
from .standin import NAMESPACE, TOKEN_IDENTITY

START_TIMEOUT = 30.0


def pin_self(cpu: int) -> bool:
    """Bind this process (and the threads it starts) to one CPU, as `common.pinned` binds a child; False
    when the machine has one CPU or the kernel refuses."""
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return False
    return True


def raise_open_files(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards `wanted` (at most the hard limit); the new soft limit.
    Children (meshd) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def open_files(pid: int) -> int:
    """How many file descriptors a process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def meshd_command(profile: Path | None = None) -> list[str]:
    """meshd's command line; under cProfile writing `profile` when it stops, when one is given."""
    if profile is not None:
        return [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "mesh_runtime.meshd"]
    beside = Path(sys.executable).parent / "meshd"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "mesh_runtime.meshd"]


def services_yaml(count: int, port: int = 9080) -> str:
    """`count` Services in the bench namespace, `svc-0000`…, each selecting `app: <its name>`."""
    documents = []
    for name in service_names(count):
        documents.append(
            "apiVersion: v1\nkind: Service\n"
            f"metadata: {{name: {name}, namespace: {NAMESPACE}, labels: {{app: {name}}}}}\n"
            f"spec: {{selector: {{app: {name}}}, ports: [{{name: http, port: {port}}}]}}\n"
        )
    return "---\n".join(documents)


def service_names(count: int) -> list[str]:
    return [f"svc-{index:04d}" for index in range(count)]


def virtual_service_yaml(host: str, prefix: str) -> str:
    """A VirtualService on `host` whose first route matches the URI prefix `prefix`: a change to it is a
    change of that one string, which every sidecar's route table carries."""
    return (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        f"metadata: {{name: bench-change, namespace: {NAMESPACE}}}\n"
        f"spec:\n  hosts: [{host}]\n  http:\n"
        f"  - match: [{{uri: {{prefix: '{prefix}'}}}}]\n    route: [{{destination: {{host: {host}}}}}]\n"
        f"  - route: [{{destination: {{host: {host}}}}}]\n"
    )


@dataclass
class Meshd:
    """One meshd process started by a benchmark, stopped with SIGTERM."""

    data_dir: Path
    cpu: int | None = common.MEASURED_CPU
    extra_args: tuple[str, ...] = ()
    #: Run meshd under cProfile, its stats written here when it stops (`python -m pstats FILE`).
    profile: Path | None = None
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self) -> Meshd:
        self.ports = {name: common.free_port() for name in ("discovery", "api", "monitoring")}
        self.log_path = self.data_dir.parent / "meshd.log"
        argv = [
            *meshd_command(self.profile),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--listen-address",
            "127.0.0.1",
            "--discovery-port",
            str(self.ports["discovery"]),
            "--api-port",
            str(self.ports["api"]),
            "--monitoring-port",
            str(self.ports["monitoring"]),
            "--log-level",
            "warning",
            *self.extra_args,
        ]
        if self.cpu is not None:
            argv = common.pinned(self.cpu, argv)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
        try:
            self._wait_ready()
        except common.BenchError:
            self.kill()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        for port in self.ports.values():
            try:
                common.wait_for_port(port, self.process, START_TIMEOUT)
            except common.BenchError as exc:
                raise common.BenchError(f"meshd did not start: {exc}\n{self.log()}") from None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['monitoring']}/ready", timeout=5):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.1)
        raise common.BenchError(f"meshd did not report ready within {START_TIMEOUT:g} s\n{self.log()}")

    @property
    def pid(self) -> int:
        """meshd's own pid (taskset execs it, so the child is meshd)."""
        assert self.process is not None
        return self.process.pid

    @property
    def root_cert(self) -> Path:
        return self.data_dir / "root-cert.pem"

    def log(self) -> str:
        return (
            self.log_path.read_text(errors="replace")[-4000:]
            if self.log_path and self.log_path.exists()
            else ""
        )

    def token(self, *identities: str) -> str:
        """A bootstrap token allowing `identities` (default: every service account of the bench namespace)."""
        args = [part for identity in identities or (TOKEN_IDENTITY,) for part in ("--identity", identity)]
        done = subprocess.run(
            [*meshd_command(), "token", "create", "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise common.BenchError(f"meshd token create failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def client(self) -> ApiClient:
        token = (self.data_dir / "admin-token").read_text().strip()
        context = ssl.create_default_context(cafile=str(self.root_cert))
        return ApiClient("127.0.0.1", self.ports["api"], token, context)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def apply(client: ApiClient, documents: str, source: str = "bench") -> ApiResponse:
    """POST /v1/apply; BenchError naming meshd's answer when it is not a success."""
    response = client.request(
        "POST", "/v1/apply", {"documents": documents, "source": source, "namespace": NAMESPACE}
    )
    if not response.ok:
        raise common.BenchError(f"meshd refused the apply of {source}: {response.status} {response.body}")
    return response


def proxy_rows(client: ApiClient) -> list[dict[str, Any]]:
    response = client.request("GET", "/v1/proxies")
    if not response.ok:
        raise common.BenchError(f"GET /v1/proxies: {response.status} {response.body}")
    return list(response.body["items"])


def all_synced(rows: Sequence[dict[str, Any]], ids: Sequence[str]) -> bool:
    """Every proxy in `ids` is connected and SYNCED in meshd's proxy rows."""
    states = {row["id"]: row["state"] for row in rows}
    return all(states.get(proxy) == "SYNCED" for proxy in ids)


def temporary_directory(prefix: str) -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix=prefix))


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
