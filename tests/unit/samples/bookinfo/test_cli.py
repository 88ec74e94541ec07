"""The `bookinfo` command as a real process: choosing a service and version, bad arguments, stopping."""

from __future__ import annotations

import signal
import threading

import pytest

from tests.unit.samples.bookinfo.conftest import StubFactory
from tests.unit.samples.bookinfo.support import Answer, Launcher, Service, request, upstream_env


def _exit(service: Service, timeout: float = 15.0) -> tuple[int, str]:
    return service.process.wait(timeout), service.log()


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["details", "--version", "v3"],
            {},
            "bookinfo details: --version 'v3' is not a version of details; choose one of v1, v2",
        ),
        (
            ["reviews"],
            {"SERVICE_VERSION": "v9"},
            "bookinfo reviews: SERVICE_VERSION 'v9' is not a version of reviews; choose one of v1, v2, v3",
        ),
        (
            ["productpage"],
            {"FLOOD_FACTOR": "lots"},
            "bookinfo productpage: FLOOD_FACTOR='lots': give a whole number of extra calls, 0 or more",
        ),
        (["ratings", "--port", "70000"], {}, "70000 is not a port number (0-65535; 0 picks a free port)"),
        (["ratings", "--port", "http"], {}, "'http' is not a port number"),
        (["library"], {}, "invalid choice: 'library'"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    launcher: Launcher, argv: list[str], env: dict[str, str], message: str
) -> None:
    code, log = _exit(launcher.run(argv, env))
    assert code == 2
    assert message in log
    assert "Traceback" not in log


def test_a_port_in_use_is_reported_without_a_traceback(launcher: Launcher) -> None:
    first = launcher.start("ratings")
    code, log = _exit(launcher.run(["details", "--port", str(first.port)]))
    assert code == 1
    assert (
        f"cannot listen on 127.0.0.1:{first.port}: Address already in use; choose another --host/--port"
        in log
    )
    assert "Traceback" not in log


def test_the_version_comes_from_service_version(launcher: Launcher) -> None:
    reviews = launcher.start("reviews", env={"SERVICE_VERSION": "v3", "HOSTNAME": "p"})
    assert "reviews-v3 listening on" in reviews.log()


def test_the_version_flag_wins_over_service_version(launcher: Launcher) -> None:
    reviews = launcher.start("reviews", "--version", "v1", env={"SERVICE_VERSION": "v3", "HOSTNAME": "p"})
    assert '"reviewer": "Reviewer1",  "text"' in request(f"{reviews.url}/reviews/0").text
    assert "rating" not in request(f"{reviews.url}/reviews/0").text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_service_cleanly(launcher: Launcher, sig: signal.Signals) -> None:
    ratings = launcher.start("ratings")
    assert request(f"{ratings.url}/health").status == 200
    assert ratings.stop(sig) == 0
    log = ratings.log()
    assert log.rstrip().endswith("ratings-v1 stopped")
    assert "Traceback" not in log


def test_a_request_in_flight_is_finished_before_stopping(launcher: Launcher, stub: StubFactory) -> None:
    reviews = stub(Answer(body='{"reviews": []}', delay=1.0))
    page = launcher.start("productpage", env=upstream_env(reviews=reviews))
    replies = []
    client = threading.Thread(target=lambda: replies.append(request(f"{page.url}/api/v1/products/0/reviews")))
    client.start()
    while not reviews.seen:
        threading.Event().wait(0.01)
    page.process.send_signal(signal.SIGTERM)
    client.join(15)
    assert [(reply.status, reply.text) for reply in replies] == [(200, '{"reviews": []}')]
    assert _exit(page)[0] == 0


def test_listens_on_the_host_given(launcher: Launcher) -> None:
    details = launcher.start("details", "--host", "127.0.0.2")
    assert details.host == "127.0.0.2"
    assert request(f"{details.url}/health").status == 200
