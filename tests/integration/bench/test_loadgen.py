"""The load generators and the mesh path of the benchmarks, for real: the constant-rate client and wrk against
the benchmark's app, and the client → sidecar → mTLS → sidecar → app chain the latency benchmark measures.
Counts are checked, never times."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chain import PATH, SERVER_HOST, mesh_chain
from bench.common import ROOT, free_port, wait_for_port
from bench.loadgen import constant_rate, run_wrk


@pytest.fixture
def app_port() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.app", str(port)], cwd=ROOT)
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def test_the_constant_rate_client_sends_every_request_on_its_timetable(app_port: int) -> None:
    run = constant_rate("127.0.0.1", app_port, PATH, rate=200.0, duration=1.0, connections=4)
    assert run.errors == 0
    assert len(run.service) == len(run.intended) == 200
    assert all(i >= s > 0 for s, i in zip(run.service, run.intended, strict=True))


def test_wrk_runs_are_read(app_port: int) -> None:
    run = run_wrk(f"http://127.0.0.1:{app_port}{PATH}", seconds=1, connections=2)
    assert run.requests > 0 and run.errors == 0
    assert set(run.latency) == {50.0, 75.0, 90.0, 99.0}


def test_the_mesh_chain_answers_through_both_sidecars(tmp_path: Path) -> None:
    """Both sidecars serve (with access logs: the launcher's proxy_flags), both SYNCED."""
    with mesh_chain(tmp_path, access_log=True) as chain:
        through = constant_rate(
            "127.0.0.1", chain.outbound_port, PATH, host_header=SERVER_HOST, rate=100.0, duration=1.0
        )
        direct = constant_rate("127.0.0.1", chain.app_port, PATH, rate=100.0, duration=1.0)
        rows = {row["id"]: row["state"] for row in chain.lab.proxy_rows()}
        logs = {name: (chain.lab.logs / f"{name}.proxy.log").read_text() for name in rows}
    assert all('"response_code":200' in log.replace(" ", "") for log in logs.values()), logs
    assert (through.errors, len(through.service)) == (0, 100)
    assert (direct.errors, len(direct.service)) == (0, 100)
    assert rows == {"client-v1.bench": "SYNCED", "server-v1.bench": "SYNCED"}


def test_the_gateway_chain_reaches_the_upstream_outside_the_mesh(tmp_path: Path, app_port: int) -> None:
    with mesh_chain(tmp_path, upstream_port=app_port) as chain:
        run = constant_rate("127.0.0.1", chain.gateway_port, PATH, rate=100.0, duration=1.0)
    assert (run.errors, len(run.service)) == (0, 100)
