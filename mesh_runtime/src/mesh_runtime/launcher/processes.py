"""The lab's processes: started with their output in a log file, stopped with SIGTERM, then SIGKILL.

Every process gets a session of its own (so a Ctrl-C meant for the launcher's terminal does not reach it, and
`mesh-lab up` can return while they run). A process is known by its pid and its start time (from
/proc/<pid>/stat), so that `mesh-lab down` from another process never signals a pid the kernel has reused.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STOP_TIMEOUT = 10.0
KILL_TIMEOUT = 5.0
LOG_TAIL_LINES = 30


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


@dataclass
class Child:
    """One process of the lab."""

    name: str
    argv: tuple[str, ...]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    pid: int = 0
    started: int | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env),
                start_new_session=True,
            )
        self.pid = self.process.pid
        self.started = start_time(self.pid)
        return self

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        if not self.pid:
            return False
        return start_time(self.pid) == self.started and self.started is not None and not is_zombie(self.pid)

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def wait(self, timeout: float) -> bool:
        """Wait for the process to end; True when it did."""
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(KILL_TIMEOUT)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "started": self.started,
            "log": str(self.log_path),
            "argv": list(self.argv),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Child:
        return cls(
            name=str(record["name"]),
            argv=tuple(record.get("argv", ())),
            log_path=Path(record["log"]),
            pid=int(record["pid"]),
            started=record.get("started"),
        )


def stop_all(children: Sequence[Child], timeout: float = STOP_TIMEOUT) -> list[Child]:
    """SIGTERM to every process at once, SIGKILL to those still there after `timeout`.

    Returns the processes that had to be killed.
    """
    running = [c for c in children if c.alive()]
    for child in running:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    killed = []
    for child in running:
        if not child.wait(max(deadline - time.monotonic(), 0.0)):
            killed.append(child)
            child.kill()
    return killed


def still_alive(children: Iterable[Child]) -> list[Child]:
    return [c for c in children if c.alive()]
