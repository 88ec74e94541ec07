"""A proxy that is lost without a word (its node destroyed, its link cut: no FIN ever arrives) leaves the
registry in a bounded time, on the whole Bookinfo mesh as real processes.

A sidecar stopped with SIGSTOP keeps its sockets open and its kernel acknowledges every byte, but it sends
nothing: meshd must find its stream dead by the heartbeat, mark its workload unhealthy at once (the other
proxies stop sending it traffic) and remove it after the grace period. Continued with SIGCONT, the proxy
finds its stream gone, reconnects and is registered again. meshd runs with short times here (a heartbeat
every 0.5 s, a 3 s grace period) so that the test is quick; waits are bounded polls on what the mesh says.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh_runtime.launcher import Lab, bookinfo_spec
from mesh_runtime.launcher.readiness import http_get
from tests.integration.mesh.running import poll

HEARTBEAT_INTERVAL, GRACE_PERIOD = "0.5s", "3s"
RATINGS = "ratings-v1.default"
REVIEWS_V2 = "reviews-v2.default"
RATINGS_CLUSTER = "outbound|9080||ratings.default.svc.cluster.local"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    flags = ("--heartbeat-interval", HEARTBEAT_INTERVAL, "--workload-grace-period", GRACE_PERIOD)
    lab = Lab(bookinfo_spec(), tmp_path_factory.mktemp("lab"), meshd_flags=flags)
    lab.start()
    children = lab.children()
    try:
        yield lab
    finally:
        for child in children:  # never leave a stopped process behind, whatever failed
            if child.alive():
                os.kill(child.pid, signal.SIGCONT)
        report = lab.stop()
    assert report.clean, report
    for child in children:
        log = child.log_path.read_text(errors="replace")
        assert "Traceback" not in log, f"{child.name}:\n{log}"


def registered(lab: Lab, workload_id: str) -> dict[str, Any] | None:
    workloads = lab.request("GET", "/v1/registry")["workloads"]
    return next((w for w in workloads if w["id"] == workload_id), None)


def ratings_hosts(lab: Lab, proxy_id: str) -> list[str]:
    """The health of each endpoint the proxy has for ratings (from the proxy itself)."""
    body = http_get(f"http://127.0.0.1:{lab.admin_ports()[proxy_id]}/clusters?format=json")
    (cluster,) = [c for c in json.loads(body)["cluster_statuses"] if c["name"] == RATINGS_CLUSTER]
    return [host["health"] for host in cluster["hosts"]]


def silent_streams(lab: Lab) -> float:
    ports = lab.meshd_ports
    assert ports is not None
    for line in http_get(f"http://127.0.0.1:{ports.monitoring}/metrics").decode().splitlines():
        if line.startswith("meshd_discovery_streams_silent_total "):
            return float(line.split()[1])
    raise AssertionError("meshd has no meshd_discovery_streams_silent_total")


def test_a_silent_proxy_goes_unhealthy_then_leaves_and_comes_back_when_it_speaks(
    lab: Lab, tmp_path: Path
) -> None:
    lab.wait_synced(timeout=60)
    proxy = lab.workloads[RATINGS].proxy
    assert proxy is not None and registered(lab, RATINGS) is not None
    assert ratings_hosts(lab, REVIEWS_V2) == ["healthy"]
    silent_before = silent_streams(lab)

    os.kill(proxy.pid, signal.SIGSTOP)
    try:
        # Found dead by the heartbeat: unhealthy at once, in meshd and in the proxies that call it.
        poll(
            "ratings to be unhealthy",
            lambda: (w := registered(lab, RATINGS)) is not None and not w["healthy"],
        )
        assert silent_streams(lab) == silent_before + 1
        assert RATINGS not in {row["id"] for row in lab.proxy_rows()}
        poll("reviews-v2 to stop sending to ratings", lambda: ratings_hosts(lab, REVIEWS_V2) != ["healthy"])
        # Gone after the grace period, from the registry and from the other proxies' endpoints.
        poll("ratings to leave the registry", lambda: registered(lab, RATINGS) is None)
        poll("reviews-v2 to forget ratings", lambda: ratings_hosts(lab, REVIEWS_V2) == [])
    finally:
        os.kill(proxy.pid, signal.SIGCONT)

    # It speaks again: its stream is gone, it reconnects and registers, everyone has its endpoint back.
    lab.wait_synced(timeout=60)
    lab.wait_converged(timeout=60)
    workload = registered(lab, RATINGS)
    assert workload is not None and workload["healthy"]
    assert ratings_hosts(lab, REVIEWS_V2) == ["healthy"]
    meshd_log = lab.logs.joinpath("meshd.log").read_text()
    assert (
        f"proxy {RATINGS} sent nothing for " in meshd_log
        and "its discovery stream is closed as dead" in meshd_log
    )
