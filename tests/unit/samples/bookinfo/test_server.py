"""The server under every service, as a real process: bad requests, bodies, keep-alive, log, concurrency."""

from __future__ import annotations

import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from bookinfo.server import Response, _Handler
from tests.unit.samples.bookinfo.conftest import StubFactory
from tests.unit.samples.bookinfo.support import Answer, Launcher, Seen, Service, request, upstream_env

DEFAULT_0 = '{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}'


@pytest.fixture(scope="module")
def ratings(module_launcher: Launcher) -> Service:
    return module_launcher.start("ratings")


def _raw(service: Service, data: bytes) -> bytes:
    """Send bytes as they are and read until the server closes the connection."""
    with socket.create_connection((service.host, service.port), timeout=10) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def _still_serving(service: Service) -> bool:
    return request(f"{service.url}/ratings/0").text == DEFAULT_0


@pytest.mark.parametrize(
    ("data", "status_line"),
    [
        (b"\x16\x03\x01garbage\r\n\r\n", b"HTTP/1.1 400"),
        (b"GET /ratings/0 HTTP/9.9\r\n\r\n", b"HTTP/1.1 505"),
        (b"BREW /ratings/0 HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 501"),
        (b"POST /ratings/0 HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", b"HTTP/1.1 400"),
        (b"POST /ratings/0 HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", b"HTTP/1.1 400"),
        (b"POST /ratings/0 HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", b"HTTP/1.1 413"),
        (b"POST /ratings/0 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}", b"HTTP/1.1 400"),
        (b"POST /ratings/0 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"HTTP/1.1 400"),
    ],
)
def test_a_bad_request_is_answered_and_the_server_carries_on(
    ratings: Service, data: bytes, status_line: bytes
) -> None:
    assert _raw(ratings, data).startswith(status_line)
    assert _still_serving(ratings)


def test_a_client_that_hangs_up_early_does_not_stop_the_server(ratings: Service) -> None:
    with socket.create_connection((ratings.host, ratings.port), timeout=10) as connection:
        connection.sendall(b"GET /ratings/0 HTTP/1.1\r\nHo")
    assert _still_serving(ratings)


def test_a_connection_reset_by_the_client_is_one_log_line(ratings: Service) -> None:
    with socket.create_connection((ratings.host, ratings.port), timeout=10) as connection:
        connection.sendall(b"GET /ratings/0 HTTP/1.1\r\nHost: x\r\n")
        # SO_LINGER 0: the close is a reset (the server reads ECONNRESET), as when a proxy aborts.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert _still_serving(ratings)
    deadline = time.monotonic() + 10
    while "connection ended" not in ratings.log() and time.monotonic() < deadline:
        time.sleep(0.02)

    log = ratings.log()
    assert "connection ended: Connection reset by peer" in log
    assert "Traceback" not in log


def test_a_chunked_body_is_read(ratings: Service) -> None:
    body = b'{"Reviewer1": 2}'
    data = (
        b"POST /ratings/77 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(body) - 4:x}\r\n".encode()
        + body[:-4]
        + b"\r\n4\r\n"
        + body[-4:]
        + b"\r\n0\r\n\r\n"
    )
    assert _raw(ratings, data).endswith(b'{"id":77,"ratings":{"Reviewer1":2}}')
    assert request(f"{ratings.url}/ratings/77").text == '{"id":77,"ratings":{"Reviewer1":2}}'


def test_keep_alive_serves_several_requests_on_one_connection(ratings: Service) -> None:
    two = (
        b"GET /ratings/1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /ratings/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    received = _raw(ratings, two)
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert b'{"id":1,' in received and b'{"id":2,' in received


def test_head_sends_the_length_without_the_body(launcher: Launcher) -> None:
    details = launcher.start("details")
    received = _raw(details, b"HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: 31\r\n" in head  # {"status":"Details is healthy"}
    assert body == b""


def test_an_absolute_form_target_is_served_like_its_path(ratings: Service) -> None:
    received = _raw(
        ratings, b"GET http://ratings:9080/ratings/3 HTTP/1.1\r\nHost: ratings\r\nConnection: close\r\n\r\n"
    )
    assert received.endswith(b'{"id":3,"ratings":{"Reviewer1":5,"Reviewer2":4}}')


def test_one_log_line_per_request(launcher: Launcher) -> None:
    details = launcher.start("details")
    request(f"{details.url}/details/0")
    request(f"{details.url}/details/x")
    _raw(details, b"\x01\x02 junk\r\n\r\n")
    request(f"{details.url}/health")
    lines = details.log_lines(5)
    assert "details-v1 listening on http://127.0.0.1:" in lines[0]
    requests = lines[1:]
    assert len(requests) == 4
    assert '"GET /details/0 HTTP/1.1" 200 178 ' in requests[0]
    assert '"GET /details/x HTTP/1.1" 400 ' in requests[1]
    assert '"\\x01\\x02 junk" 400 ' in requests[2]  # control characters cannot forge log lines
    assert '"GET /health HTTP/1.1" 200 ' in requests[3]
    assert all(" details-v1 127.0.0.1 " in line for line in requests)


def test_requests_are_served_concurrently(launcher: Launcher, stub: StubFactory) -> None:
    both_arrived = threading.Barrier(2)

    def wait_for_the_other(seen: Seen) -> Answer:
        try:
            both_arrived.wait(timeout=2.5)  # less than productpage's 3 s, so a serial server fails
        except threading.BrokenBarrierError:
            return Answer(status=500)
        return Answer(body='{"reviews": []}')

    reviews = stub(wait_for_the_other)
    page = launcher.start("productpage", env=upstream_env(reviews=reviews))
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: request(f"{page.url}/api/v1/products/0/reviews"), range(2)))
    assert [reply.status for reply in replies] == [200, 200]
    assert len(reviews.seen) == 2


class _Writes:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.writes.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def _answer_with(command: str, response: Response) -> list[bytes]:
    """What `_respond` writes for `response`, write by write (a handler not bound to a connection)."""
    handler = _Handler.__new__(_Handler)
    recorder = _Writes()
    handler.wfile = recorder  # type: ignore[assignment]
    handler.command = command
    handler.close_connection = command == "HEAD"
    handler.client_address = ("127.0.0.1", 1)
    handler.requestline = f"{command} / HTTP/1.1"
    handler.server = SimpleNamespace(log=SimpleNamespace(write=lambda line: None))  # type: ignore[assignment]
    handler._respond(response, 0.0)
    return recorder.writes


def test_the_head_and_the_body_of_an_answer_leave_in_one_write() -> None:
    """A proxy in front never holds the head of an answer whose body the live app has still to send."""
    writes = _answer_with("GET", Response(200, b'{"id":0}', "application/json", (("X-Seen", "yes"),)))
    assert len(writes) == 1, writes
    head, _, body = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\nDate: ")
    assert b"\r\nContent-Type: application/json\r\nContent-Length: 8\r\nX-Seen: yes" in head
    assert body == b'{"id":0}'
    (closing,) = _answer_with("HEAD", Response(404, b"missing", "text/plain", ()))
    assert closing.startswith(b"HTTP/1.1 404 Not Found\r\n") and closing.endswith(
        b"\r\nConnection: close\r\n\r\n"
    )
