"""Helpers for Bookinfo's tests: run a service as a real process, stand in for an upstream, send requests."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[4]
BOOKINFO_SRC = REPO_ROOT / "samples" / "bookinfo" / "src"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
LISTENING = re.compile(r"listening on http://(\S+):(\d+)")
START_TIMEOUT_SECONDS = 15.0


# -- requests


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> object:
        return json.loads(self.body)


def request(
    url: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    timeout: float = 20.0,
) -> Reply:
    """One request straight to `url` (never through a proxy)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def get_json(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, object]:
    reply = request(url, headers=headers)
    return reply.status, reply.json()


# -- services as processes


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without proxy settings, with the bookinfo sources importable."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in PROXY_VARIABLES and name not in ("SERVICE_VERSION", "HOSTNAME")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BOOKINFO_SRC), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Service:
    """A running `python -m bookinfo <service>`; its stderr goes to a log file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    host: str = ""
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self, count: int, limit: float = 10.0) -> list[str]:
        """The log's lines once it has at least `count` (a request is logged just after its response)."""
        deadline = time.monotonic() + limit
        lines = self.log().splitlines()
        while len(lines) < count and time.monotonic() < deadline:
            time.sleep(0.02)
            lines = self.log().splitlines()
        return lines

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def upstream_env(**services: Service | Stub) -> dict[str, str]:
    """Point a service straight at others: `upstream_env(details=d, reviews=r)` → *_HOSTNAME/_SERVICE_PORT."""
    env: dict[str, str] = {}
    for name, target in services.items():
        env[f"{name.upper()}_HOSTNAME"] = target.host
        env[f"{name.upper()}_SERVICE_PORT"] = str(target.port)
    return env


class Launcher:
    """Starts services on free loopback ports and stops every one of them at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.services: list[Service] = []

    def run(self, argv: list[str], env: Mapping[str, str] | None = None) -> Service:
        """Start `python -m bookinfo *argv` and return at once (for processes expected to exit)."""
        log_path = self.log_dir / f"{argv[0]}-{len(self.services)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bookinfo", *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=clean_environment(env),
            )
        service = Service(process, log_path)
        self.services.append(service)
        return service

    def start(self, service: str, *args: str, env: Mapping[str, str] | None = None) -> Service:
        """Start a service on a free port and wait until it listens."""
        started = self.run([service, "--port", "0", *args], env)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            found = LISTENING.search(started.log())
            if found:
                started.host, started.port = found.group(1), int(found.group(2))
                return started
            if started.process.poll() is not None:
                break
            time.sleep(0.02)
        started.stop()
        raise AssertionError(f"bookinfo {service} did not start:\n{started.log()}")

    def close(self) -> None:
        running = [service for service in self.services if service.process.poll() is None]
        for service in running:
            service.process.send_signal(signal.SIGTERM)  # all at once: each takes a moment to stop
        for service in running:
            service.stop()


# -- a stand-in upstream


@dataclass(frozen=True)
class Seen:
    """A request a stub received. Header names are lower case."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path if "://" in self.target else self.target.split("?")[0]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes | str = b"{}"
    content_type: str = "application/json"
    delay: float = 0.0
    hang_up: bool = False  # close the connection without answering


Answering = Callable[[Seen], Answer]


@dataclass
class _StubState:
    answering: Answering
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)


class Stub:
    """A small HTTP server standing in for an upstream: records every request, answers as told."""

    def __init__(self, answer: Answer | Answering | None = None) -> None:
        self._state = _StubState(_answering(answer))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _stub_handler(self._state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.host = "127.0.0.1"
        self.port = int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def seen(self) -> list[Seen]:
        with self._state.lock:
            return list(self._state.seen)

    def answer(self, answer: Answer | Answering | None) -> None:
        """From now on answer this way; forget the requests seen so far."""
        with self._state.lock:
            self._state.answering = _answering(answer)
            self._state.seen.clear()

    def close(self) -> None:
        self._state.released.set()
        self._server.shutdown()
        self._server.server_close()


def _answering(answer: Answer | Answering | None) -> Answering:
    if answer is None:
        return lambda seen: Answer()
    if isinstance(answer, Answer):
        fixed = answer
        return lambda seen: fixed
    return answer


def in_turn(*answers: Answer) -> Answering:
    """Answer the n-th request with the n-th answer, and every later one with the last."""
    count = 0
    lock = threading.Lock()

    def answering(seen: Seen) -> Answer:
        nonlocal count
        with lock:
            index = min(count, len(answers) - 1)
            count += 1
        return answers[index]

    return answering


def _stub_handler(state: _StubState) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with state.lock:
                state.seen.append(seen)
                answering = state.answering
            answer = answering(seen)
            if answer.delay:
                state.released.wait(answer.delay)
            if answer.hang_up:
                self.close_connection = True
                return
            data = answer.body.encode("utf-8") if isinstance(answer.body, str) else answer.body
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True  # the client gave up waiting

        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
