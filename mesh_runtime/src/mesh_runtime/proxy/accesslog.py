"""One JSON line per request, with the fields of Envoy's default JSON access log (Istio's
`meshConfig.accessLogEncoding: JSON`). Off unless the proxy is started with `--access-log` (a path, or `-` for
stdout) and the pushed Telemetry keeps `access_log` on.

Lines go to a buffered stream that the proxy's one-second tick flushes: no syscall per request.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import TextIO


class AccessLog:
    __slots__ = ("stream", "enabled", "_owned", "written")

    def __init__(self, stream: TextIO, owned: bool) -> None:
        self.stream = stream
        self._owned = owned
        #: Follows the pushed Telemetry.access_log.
        self.enabled = True
        self.written = 0

    @classmethod
    def open(cls, target: str) -> AccessLog:
        """`-`: stdout; anything else: a file appended to (created when missing)."""
        if target == "-":
            return cls(sys.stdout, owned=False)
        return cls(open(target, "a", encoding="utf-8", buffering=64 * 1024), owned=True)  # noqa: SIM115

    def write(
        self,
        started_wall: float,
        duration: float,
        method: bytes,
        path: bytes,
        protocol: str,
        status: int,
        flags: str,
        received: int,
        sent: int,
        upstream_host: str,
        upstream_cluster: str,
        request_id: bytes | None,
        authority: bytes,
        user_agent: bytes | None,
        remote: bytes,
    ) -> None:
        entry = {
            "start_time": _iso(started_wall),
            "method": method.decode("latin-1"),
            "path": path.decode("latin-1"),
            "protocol": protocol,
            "response_code": status,
            "response_flags": flags or "-",
            "bytes_received": received,
            "bytes_sent": sent,
            "duration": int(duration * 1000),
            "upstream_host": upstream_host or None,
            "upstream_cluster": upstream_cluster or None,
            "x_request_id": request_id.decode("latin-1") if request_id is not None else None,
            "authority": authority.decode("latin-1"),
            "user_agent": user_agent.decode("latin-1") if user_agent is not None else None,
            "downstream_remote_address": remote.decode("latin-1"),
        }
        self.stream.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self.written += 1

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # a full disk or a closed stdout loses lines only
            self.stream.flush()

    def close(self) -> None:
        self.flush()
        if self._owned:
            self.stream.close()


def _iso(wall: float) -> str:
    seconds = int(wall)
    millis = int((wall - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
