"""A real meshd process in a temporary data directory, and a real meshctl pointed at it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

READY = re.compile(
    r"meshd ready: discovery (?P<discovery>\S+):(?P<discovery_port>\d+), "
    r"config API \S+:(?P<api_port>\d+), monitoring \S+:(?P<monitoring_port>\d+)"
)
START_TIMEOUT = 20.0


def executable(name: str) -> list[str]:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    module = {"meshd": "mesh_runtime.meshd", "meshctl": "mesh_runtime.cli"}[name]
    return [sys.executable, "-m", module]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Meshd:
    """One meshd process on free loopback ports (it picks them: port 0), stopped with SIGTERM."""

    data_dir: Path
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    ports: dict[str, int] = field(default_factory=dict)
    log_path: Path | None = None

    def start(self) -> Meshd:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-meshd-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    *executable("meshd"),
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--listen-address",
                    "127.0.0.1",
                    "--discovery-port",
                    "0",
                    "--api-port",
                    "0",
                    "--monitoring-port",
                    "0",
                    *self.extra_args,
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = READY.search(self.log())
            if match:
                self.ports = {k: int(v) for k, v in match.groupdict().items() if k.endswith("port")}
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"meshd exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"meshd did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self) -> int:
        """SIGTERM, and the exit status (killed if it does not stop)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"meshd did not stop on SIGTERM:\n{self.log()}") from None
        return self.process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def api(self) -> str:
        return f"127.0.0.1:{self.ports['api_port']}"

    @property
    def discovery(self) -> tuple[str, int]:
        return "127.0.0.1", self.ports["discovery_port"]

    @property
    def monitoring(self) -> str:
        return f"127.0.0.1:{self.ports['monitoring_port']}"

    @property
    def root_cert(self) -> Path:
        return self.data_dir / "root-cert.pem"

    def monitoring_get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://{self.monitoring}{path}", timeout=10) as response:  # noqa: S310
            return str(response.read().decode())

    def metric(self, name: str, labels: str = "") -> float:
        """The value of one sample on /metrics (0 when the sample is not there)."""
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in self.monitoring_get("/metrics").splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def meshctl(self, *argv: str, stdin: str = "", env: dict[str, str] | None = None) -> Result:
        """meshctl as a process; API commands get --control-plane and --data-dir."""
        command = argv[0]
        defaults: dict[str, str] = {}
        if command in ("apply", "get", "delete", "label", "proxy-status", "proxy-config", "analyze"):
            defaults = {"--control-plane": self.api, "--data-dir": str(self.data_dir)}
        elif command == "version":
            defaults = {"--control-plane": self.monitoring}
        flags = [part for flag, value in defaults.items() if flag not in argv for part in (flag, value)]
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("MESHCTL_", "MESHD_"))}
        environment.update(env or {})
        process = subprocess.run(
            [*executable("meshctl"), *argv, *flags],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
        )
        return Result(process.returncode, process.stdout, process.stderr)

    def token(self, *identities: str) -> str:
        args = [arg for identity in identities for arg in ("--identity", identity)]
        process = subprocess.run(
            [*executable("meshd"), "token", "create", "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return process.stdout.strip()


def json_lines(text: str) -> list[Any]:
    import json

    return [json.loads(line) for line in text.splitlines() if line.strip()]
