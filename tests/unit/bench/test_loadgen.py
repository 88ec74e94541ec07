"""Reading wrk's output and the constant-rate client's timetable and framing."""

from __future__ import annotations

import pytest

from bench.common import BenchError
from bench.loadgen import content_length, parse_wrk, seconds, timetable

WRK = """Running 6s test @ http://127.0.0.1:19101/details/0
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.12us  100.00us   5.00ms   90.00%
    Req/Sec    78.00k     2.00k   80.00k    70.00%
  Latency Distribution
     50%  400.00us
     75%  450.00us
     90%    1.33ms
     99%    2.77ms
  465000 requests in 6.00s, 100.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:  77500.00
Transfer/sec:     16.67MB
"""


def test_wrk_output_is_read_with_its_units() -> None:
    run = parse_wrk(WRK)
    assert (run.requests, run.seconds, run.non_2xx, run.socket_errors, run.errors) == (465000, 6.0, 3, 3, 6)
    assert run.rate == pytest.approx(77500.0)
    assert run.latency == pytest.approx({50.0: 400e-6, 75.0: 450e-6, 90.0: 1.33e-3, 99.0: 2.77e-3})


def test_a_clean_wrk_run_without_latency_has_no_errors() -> None:
    run = parse_wrk("  1540 requests in 1.10s, 2.48MB read\nRequests/sec:   1399.93\n")
    assert (run.requests, run.seconds, run.errors, run.latency) == (1540, 1.1, 0, {})


def test_wrk_output_without_a_count_is_an_error() -> None:
    with pytest.raises(BenchError, match="no request count"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_durations() -> None:
    assert seconds("412.12us") == pytest.approx(412.12e-6)
    assert seconds("1.00m") == 60.0
    with pytest.raises(ValueError, match="not a wrk duration"):
        seconds("12 parsecs")


def test_the_timetable_is_evenly_spaced_at_the_rate() -> None:
    times = timetable(1000.0, 0.01, start=5.0)
    assert len(times) == 10
    assert times[0] == 5.0 and times[-1] == pytest.approx(5.009)
    assert {round(b - a, 9) for a, b in zip(times, times[1:], strict=False)} == {0.001}
    with pytest.raises(ValueError):
        timetable(0, 1)


def test_a_response_head_says_how_long_its_body_is() -> None:
    assert content_length(b"HTTP/1.1 200 OK\r\ncontent-length: 120\r\nserver: envoy") == 120
    assert content_length(b"HTTP/1.1 204 No Content\r\nServer: x") == 0
