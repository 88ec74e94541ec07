"""One JSON line per request, with the fields of Envoy's default JSON access log (Istio's
`meshConfig.accessLogEncoding: JSON`). Off unless the proxy is started with `--access-log` (a path, or `-` for
stdout) and the pushed Telemetry keeps `access_log` on.

Lines go to a buffered stream that the proxy's one-second tick flushes: no syscall per request. A line is
written as json.dumps would write it, without building a dict: the field names are fixed, numbers are
formatted, and a string is quoted as it is unless it needs escaping (then json.dumps quotes it); the
timestamp's seconds are formatted once per second.
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
        self.stream.write(
            f'{{"start_time":"{_iso(started_wall)}","method":{_text(method.decode("latin-1"))},'
            f'"path":{_text(path.decode("latin-1"))},"protocol":"{protocol}","response_code":{status},'
            f'"response_flags":{_text(flags or "-")},"bytes_received":{received},"bytes_sent":{sent},'
            f'"duration":{int(duration * 1000)},"upstream_host":{_text_or_null(upstream_host)},'
            f'"upstream_cluster":{_text_or_null(upstream_cluster)},'
            f'"x_request_id":{_bytes_or_null(request_id)},"authority":{_text(authority.decode("latin-1"))},'
            f'"user_agent":{_bytes_or_null(user_agent)},'
            f'"downstream_remote_address":{_text(remote.decode("latin-1"))}}}\n'
        )
        self.written += 1

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # a full disk or a closed stdout loses lines only
            self.stream.flush()

    def close(self) -> None:
        self.flush()
        if self._owned:
            self.stream.close()


def _text(value: str) -> str:
    """`value` as a JSON string, as json.dumps writes it (ASCII only, escapes as needed)."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value)


def _text_or_null(value: str) -> str:
    return _text(value) if value else "null"


def _bytes_or_null(value: bytes | None) -> str:
    return _text(value.decode("latin-1")) if value is not None else "null"


#: The last second formatted, and its text (`2026-12-03T18:40:12`).
_second: list[object] = [-1, ""]


def _iso(wall: float) -> str:
    seconds = int(wall)
    millis = int((wall - seconds) * 1000)
    if _second[0] != seconds:
        _second[0], _second[1] = seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{_second[1]}.{millis:03d}Z"
