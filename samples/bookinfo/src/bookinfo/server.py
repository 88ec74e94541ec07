"""The HTTP server every Bookinfo service runs on: one thread per connection, one log line per request.

A service is an `App`: a function of a `Request` to a `Response`. This module owns everything about the wire
(reading bodies, keep-alive, writing responses, the access log) and the process (binding, signals, a clean
stop), so the services hold only Bookinfo's behaviour.
"""

from __future__ import annotations

import http.server
import json
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from types import FrameType
from typing import IO, Protocol, cast
from urllib.parse import urlsplit

JSON = "application/json"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

MAX_BODY_BYTES = 1 << 20
IDLE_CONNECTION_SECONDS = 60.0
STOP_GRACE_SECONDS = 5.0


class Headers:
    """Request headers, looked up without regard to case. A repeated header reads as its values joined."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name.lower(), []).append(value)

    def get(self, name: str) -> str | None:
        values = self._values.get(name.lower())
        if not values:
            return None
        separator = "; " if name.lower() == "cookie" else ", "
        return separator.join(values)

    def first(self, name: str) -> str | None:
        values = self._values.get(name.lower())
        return values[0] if values else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent: still percent-encoded, without the query
    query: str
    headers: Headers
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


class App(Protocol):
    """One Bookinfo service."""

    name: str  # for the log: `details-v1`

    def handle(self, request: Request) -> Response: ...


def json_text(status: int, text: str) -> Response:
    """A JSON body given as text, sent exactly as written."""
    return Response(status, text.encode("utf-8"), JSON)


def compact_json(status: int, value: object) -> Response:
    """A JSON body without spaces, as Ruby's `to_json` and JavaScript's `JSON.stringify` write it."""
    return json_text(status, json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def text(status: int, body: str, content_type: str = TEXT) -> Response:
    return Response(status, body.encode("utf-8"), content_type)


def not_found() -> Response:
    return text(404, "Not Found\n")


def method_not_allowed(allowed: str) -> Response:
    return Response(405, b"Method Not Allowed\n", TEXT, (("Allow", allowed),))


class _BadRequestBody(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.response = text(status, reason + "\n")


class AccessLog:
    """One line per request on a stream (stderr), safe to write from many threads."""

    def __init__(self, name: str, stream: IO[str]) -> None:
        self.name = name
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f"{stamp} {self.name} {_printable(message)}\n"
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or full stderr never stops the service


def _peer(client_address: object) -> str:
    if isinstance(client_address, tuple) and len(client_address) >= 2:
        return f"{client_address[0]}:{client_address[1]}"
    return str(client_address)


def _printable(message: str) -> str:
    """Control characters from a request line written so they cannot forge log lines."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in message)


class BookinfoServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App, log: AccessLog) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.log = log
        self._active = 0
        self._idle = threading.Condition()
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A peer that reset or dropped its connection (a sidecar does that) is one line, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            self.log.write(f"{_peer(client_address)} connection ended: {error.strerror or error}")
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up in DNS (getfqdn); a service only needs its address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so a request line that cannot be read still gets a status line
    timeout = IDLE_CONNECTION_SECONDS

    @property
    def _server(self) -> BookinfoServer:
        return cast(BookinfoServer, self.server)

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _serve(self) -> None:
        started = time.monotonic()
        with self._server.in_flight():
            try:
                body = self._read_body()
            except _BadRequestBody as error:
                self.close_connection = True
                self._respond(error.response, started)
                return
            path, query = _split_target(self.path)
            request = Request(self.command, path, query, Headers(self.headers.items()), body)
            try:
                response = self._server.app.handle(request)
            except Exception as error:  # a bug in a service answers 500 and the server carries on
                self._server.log.write(f"error: {self.command} {self.path}: {type(error).__name__}: {error}")
                response = text(500, "Internal Server Error\n")
            self._respond(response, started)

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise _BadRequestBody(400, "Bad Request: Content-Length is not a number") from None
        if length < 0:
            raise _BadRequestBody(400, "Bad Request: Content-Length is negative")
        if length > MAX_BODY_BYTES:
            raise _BadRequestBody(413, "Payload Too Large")
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BadRequestBody(400, "Bad Request: the body is shorter than its Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequestBody(400, "Bad Request: malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if size < 0 or total > MAX_BODY_BYTES:
                raise _BadRequestBody(413, "Payload Too Large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _respond(self, response: Response, started: float) -> None:
        # Status line, headers and body leave in one write, as one segment where it fits: a client never
        # holds the head of an answer whose body is still to come from a live server.
        reason = self.responses.get(response.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {response.status} {reason}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            *(f"{name}: {value}" for name, value in response.headers),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        try:
            self.wfile.write(head if self.command == "HEAD" else head + response.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        elapsed_ms = (time.monotonic() - started) * 1000
        self._log_line(response.status, str(len(response.body)), f"{elapsed_ms:.1f}ms")

    def _log_line(self, status: int | str, size: str, elapsed: str = "-") -> None:
        client = self.client_address[0] if self.client_address else "-"
        self._server.log.write(f'{client} "{self.requestline}" {status} {size} {elapsed}')

    # The base class reports requests it rejects itself (malformed, unsupported method) through these.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self._log_line(int(code) if isinstance(code, int) else code, str(size))

    def log_error(self, format: str, *args: object) -> None:
        pass  # the log_request line that follows says it

    def version_string(self) -> str:
        return f"bookinfo-{self._server.app.name}"


def _split_target(target: str) -> tuple[str, str]:
    """The path and query of a request target; an absolute-form target (`http://host/path`) is accepted."""
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query


def serve(app: App, host: str, port: int, stderr: IO[str] | None = None) -> int:
    """Serve `app` on host:port until SIGTERM or SIGINT; return the process exit status."""
    log = AccessLog(app.name, stderr or sys.stderr)
    try:
        server = BookinfoServer((host, port), app, log)
    except OSError as error:
        reason = error.strerror or str(error)
        log.write(f"error: cannot listen on {_address(host, port)}: {reason}; choose another --host/--port")
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    worker.start()
    log.write(f"listening on http://{_address(host, int(server.server_address[1]))}")
    try:
        while not stop.wait(0.5):
            pass
        log.write("stopping")
        server.shutdown()
        if not server.wait_idle(STOP_GRACE_SECONDS):
            log.write(f"stopping with requests still in flight after {STOP_GRACE_SECONDS:.0f}s")
        server.server_close()
        log.write("stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
