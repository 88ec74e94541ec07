"""Stand-in proxies against a real meshd: certificates from its CA, discovery streams over mutual TLS, a
VirtualService change applied with the real meshctl reaching and being acknowledged by every one of them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

from bench.convergence import change_marker, convergence, missing
from bench.meshdrun import service_names, services_yaml, virtual_service_yaml
from bench.standin import TOKEN_IDENTITY, Fleet
from tests.integration.meshd.running import Meshd, Result

STAND_INS = 5
TIMEOUT = 20.0


def apply(meshd: Meshd, tmp_path: Path, name: str, text: str) -> Result:
    path = tmp_path / name
    path.write_text(text)
    return meshd.meshctl("apply", "-n", "bench", "-f", str(path))


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_stand_ins_receive_and_acknowledge_a_change(tmp_path: Path) -> None:
    meshd = Meshd(tmp_path / "meshd").start()
    try:
        names = service_names(3)
        applied = apply(meshd, tmp_path, "services.yaml", services_yaml(3))
        assert applied.code == 0, applied.stderr
        applied = apply(meshd, tmp_path, "vs.yaml", virtual_service_yaml(names[0], "/bench-first"))
        assert applied.code == 0, applied.stderr
        token = meshd.token(TOKEN_IDENTITY)
        asyncio.run(scenario(meshd, tmp_path, names, token))
    finally:
        meshd.stop()


async def scenario(meshd: Meshd, tmp_path: Path, names: list[str], token: str) -> None:
    loop = asyncio.get_running_loop()
    fleet = Fleet(
        "127.0.0.1",
        meshd.ports["discovery_port"],
        meshd.root_cert,
        token,
        tmp_path / "certs",
        names,
        decode=True,
    )
    try:
        first = change_marker("/bench-first")
        fleet.watch.markers = [first]  # markers are looked for as pushes arrive
        await fleet.certify(STAND_INS)
        await fleet.connect()
        ids = fleet.ids()
        assert len(set(ids)) == STAND_INS
        await until(lambda: convergence(fleet.events(), ids, first, 0.0) is not None, "the first config")

        marker = change_marker("/bench-changed")
        fleet.watch.markers = [marker]
        started = time.monotonic()
        applied = await loop.run_in_executor(
            None, apply, meshd, tmp_path, "vs2.yaml", virtual_service_yaml(names[0], "/bench-changed")
        )
        assert applied.code == 0, applied.stderr
        await until(
            lambda: convergence(fleet.events(), ids, marker, started) is not None,
            f"every stand-in to acknowledge the change (missing: {missing(fleet.events(), ids, marker)})",
        )
        assert not fleet.broken()

        def synced() -> bool:
            status = meshd.meshctl("proxy-status", "-o", "json")
            assert status.code == 0, status.stderr
            rows = {row["id"]: row for row in json.loads(status.stdout)}
            return all(
                rows.get(s.node.id, {}).get("state") == "SYNCED"
                and rows[s.node.id]["acked_version"] == s.session.acked_version
                for s in fleet.stand_ins
            )

        deadline = time.monotonic() + TIMEOUT
        while not await loop.run_in_executor(None, synced):
            assert time.monotonic() < deadline, "meshctl proxy-status never showed every stand-in SYNCED"
            await asyncio.sleep(0.2)
        # Each stand-in is a workload of its service: meshd registered it with the Node it said Hello with.
        pods = await loop.run_in_executor(None, meshd.meshctl, "get", "pods", "-n", "bench", "-o", "json")
        assert pods.code == 0, pods.stderr
        assert {item["metadata"]["name"] for item in json.loads(pods.stdout)["items"]} >= {
            s.node.workload for s in fleet.stand_ins
        }
    finally:
        await fleet.close()
