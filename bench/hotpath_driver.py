"""Drives requests through the proxy's request path without sockets, for bench/hotpath.py: the sidecar's
downstream and upstream protocols with mock transports (tests/unit/proxy/harness.py), one keep-alive
connection each side, `GET /reviews/0` answered by a 5-byte 200.

    python -m bench.hotpath_driver TRACING LOG TRACED COUNT   (each flag 0 or 1)
"""

from __future__ import annotations

import asyncio
import sys

from mesh_runtime.proxy.accesslog import AccessLog
from tests.unit.proxy.harness import OK_RESPONSE, make_harness, sidecar_config

PLAIN = b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\nUser-Agent: wrk\r\n\r\n"
#: The same with the B3 headers a sidecar upstream of this one sends.
TRACED = (
    b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\nUser-Agent: wrk\r\n"
    b"x-b3-traceid: 463ac35c9f6413ad48485a3953bb6124\r\nx-b3-spanid: a2fb4a1d1a96d312\r\n"
    b"x-b3-sampled: 0\r\n\r\n"
)
#: Requests sent before counting starts (caches filled, code specialised).
WARM_UP = 2000


def drive(tracing: bool, log: bool, traced: bool, count: int) -> None:
    loop = asyncio.new_event_loop()
    harness = make_harness(sidecar_config(), loop)
    tracer = harness.runtime.tracer
    if tracing:  # a collector and Istio's 1 %, without the sender task
        tracer.collector, tracer.sampling, tracer.service_name = ("127.0.0.1", 9411), 1.0, "bench"
    if log:
        harness.runtime.access_log = AccessLog.open("/dev/null")
    (upstream,) = harness.pool()
    client, client_transport = harness.connect(("10.1.2.3", 5555))
    request = TRACED if traced else PLAIN
    for _ in range(WARM_UP + count):
        client.data_received(request)
        upstream.respond(OK_RESPONSE)
        client_transport.take()
        upstream.transport.take()
        tracer.queue.clear()
    loop.close()


def main() -> None:
    tracing, log, traced, count = (int(arg) for arg in sys.argv[1:5])
    drive(bool(tracing), bool(log), bool(traced), count)


if __name__ == "__main__":
    main()
