"""mesh-proxy's discovery stream when meshd goes away, against a stand-in for meshd's 15012: the proxy tries
again with a jittered back-off that never waits more than a few seconds, and starts the back-off over once
meshd has accepted a stream (so a proxy that was connected for long comes back as soon as meshd does); it
answers meshd's Pings, and drops a stream on which meshd stays silent, FIN or no FIN.

The waits are the ones the proxy says it takes (its log); nothing here measures time.
"""

from __future__ import annotations

import re
from pathlib import Path

from mesh_runtime.proxy.backoff import RECONNECT_FIRST, RECONNECT_LONGEST
from mesh_runtime.xds.heartbeat import HEARTBEAT_MISSES

from .conftest import Proxy, stop
from .fake_meshd import HEARTBEAT, PINGS, running_fake_meshd, start, wait_for_version

RECONNECTING = re.compile(r"discovery stream to meshd: (.*) \(reconnecting in ([\d.]+)s\)")


def reconnect_waits(proxy: Proxy) -> list[tuple[str, float]]:
    """(why the stream ended, the wait before the next attempt), as the proxy logged them."""
    return [(m[1], float(m[2])) for m in RECONNECTING.finditer(proxy.log.read_text())]


def test_the_back_off_is_capped_and_starts_over_once_meshd_accepted_a_stream(tmp_path: Path) -> None:
    with running_fake_meshd(tmp_path) as (fake, bundle):
        # Refused three times (the back-off grows), then a stream meshd accepts and then ends, then refused
        # for long enough that the back-off reaches its longest step.
        fake.streams = ["refuse", "refuse", "refuse", "end", "refuse"]
        proxy = start(tmp_path, fake.port, bundle)
        try:
            wait_for_version(proxy, "v1")
            fake.wait_for_attempts(11)
        finally:
            stop(proxy)
    waits = reconnect_waits(proxy)
    assert len(waits) >= 10, proxy.log.read_text()
    refused, (ended, after_end), later = waits[:3], waits[3], waits[4:10]
    assert all("meshd did not open the discovery stream: 503 not now" in p for p, _ in refused), waits
    assert [w <= RECONNECT_FIRST * 2**i for i, (_, w) in enumerate(refused)] == [True] * 3, waits
    assert ended == "meshd closed the discovery stream", waits
    assert after_end <= RECONNECT_FIRST, waits  # started over: meshd had accepted that stream
    # Six refusals in a row take the step to its longest; no wait is ever longer.
    assert max(w for _, w in later) <= RECONNECT_LONGEST, waits
    assert max(w for _, w in waits) <= RECONNECT_LONGEST, waits


def test_a_silent_stream_is_dropped_and_pings_are_answered(tmp_path: Path) -> None:
    with running_fake_meshd(tmp_path) as (fake, bundle):
        # The first stream goes silent after its push (as a meshd whose node is gone: no FIN ever comes); the
        # proxy must give up on it by itself and reconnect. The next one pings, and gets its Pongs.
        fake.streams = ["silent", "ping"]
        proxy = start(tmp_path, fake.port, bundle)
        try:
            wait_for_version(proxy, "v1")
            fake.wait_for_attempts(2)
            fake.wait_for(lambda: fake.pongs == PINGS)
        finally:
            stop(proxy)
    limit = HEARTBEAT * HEARTBEAT_MISSES
    (silent, _), *_ = reconnect_waits(proxy)
    assert silent == f"meshd sent nothing for {limit:g}s: the stream is dead", proxy.log.read_text()
    assert fake.heartbeat_requests[:2] == ["1", "1"]  # the proxy asks for a heartbeat on every stream
    assert f"discovery stream to meshd open (heartbeat every {HEARTBEAT:g}s)" in proxy.log.read_text()
