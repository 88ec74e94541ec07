"""workloads.json: the proxies' workloads as meshd last knew them; soft state, never a reason not to start."""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mesh_runtime.meshd.workloads import SavedWorkload, WorkloadFile, dump_workloads, load_workloads
from tests.unit.discovery.snapshots import sidecar

REVIEWS = sidecar("reviews-v1", "reviews", inbound_port=15126)
RATINGS = sidecar("ratings-v1", "ratings", inbound_port=15136)


def test_the_file_round_trips_the_nodes_and_their_health(tmp_path: Path) -> None:
    path = tmp_path / "workloads.json"
    saved = [SavedWorkload(REVIEWS, True), SavedWorkload(RATINGS, False)]
    path.write_bytes(dump_workloads(saved))
    assert load_workloads(path) == saved
    assert load_workloads(tmp_path / "missing.json") == []


def test_a_file_written_before_a_node_field_existed_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "workloads.json"
    body = json.loads(dump_workloads([SavedWorkload(REVIEWS, True)]))
    del body["workloads"][0]["node"]["services"]  # as an older meshd wrote it
    path.write_text(json.dumps(body))
    assert load_workloads(path) == [SavedWorkload(REVIEWS, True)]


def test_an_unreadable_file_or_entry_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "workloads.json"
    caplog.set_level(logging.WARNING)
    path.write_text("{not json")
    assert load_workloads(path) == []
    path.write_text('{"format": 99, "workloads": []}')
    assert load_workloads(path) == []
    good = json.loads(dump_workloads([SavedWorkload(RATINGS, False)]))["workloads"][0]
    path.write_text(json.dumps({"format": 1, "workloads": [{"node": {"id": 3}, "healthy": True}, good, 7]}))
    assert load_workloads(path) == [SavedWorkload(RATINGS, False)]
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot be read, starting with no proxy workloads" in m for m in messages), messages
    assert any("not a workloads file (format 1)" in m for m in messages), messages
    assert any("workloads[0] skipped: node.id: expected str" in m for m in messages), messages
    assert any("workloads[2] skipped: an entry needs a node and healthy" in m for m in messages), messages


def test_changes_are_written_off_the_event_loop_and_coalesced(tmp_path: Path) -> None:
    path = tmp_path / "workloads.json"
    current: list[SavedWorkload] = []
    writer = ThreadPoolExecutor(max_workers=1)

    async def run_in_writer(work: object) -> None:
        await asyncio.get_running_loop().run_in_executor(writer, work)  # type: ignore[arg-type]

    async def scenario() -> WorkloadFile:
        file = WorkloadFile(path, lambda: list(current), run_in_writer)
        for node in (REVIEWS, RATINGS):
            current.append(SavedWorkload(node, True))
            file.changed()
        current[0] = SavedWorkload(REVIEWS, False)
        file.changed()
        await file.flush()
        return file

    file = asyncio.run(scenario())
    writer.shutdown()
    assert load_workloads(path) == [SavedWorkload(REVIEWS, False), SavedWorkload(RATINGS, True)]
    assert 1 <= file.writes < 3  # three changes while a write was in flight: not three writes
    assert path.stat().st_mode & 0o077 == 0
