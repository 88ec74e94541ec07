"""The lab's state file on its own: written and read back, missing, damaged, and a recorded lab stopped by
another process (a real child process, its port and its state file gone after)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mesh_runtime.launcher.model import LabError
from mesh_runtime.launcher.processes import Child
from mesh_runtime.launcher.state import STATE_FILE, read_state, state_children, stop_recorded, write_state
from tests.ports import free_port


def test_what_is_written_is_read_back(tmp_path: Path) -> None:
    state = {"spec": "bookinfo", "ports": [1, 2], "children": []}
    write_state(tmp_path, state)
    assert read_state(tmp_path) == state
    assert (tmp_path / STATE_FILE).stat().st_mode & 0o777 == 0o644


def test_no_file_is_no_lab(tmp_path: Path) -> None:
    assert read_state(tmp_path) is None
    assert stop_recorded(tmp_path) is None


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_damaged_file_names_itself_and_what_to_do(tmp_path: Path, text: str) -> None:
    (tmp_path / STATE_FILE).write_text(text)
    with pytest.raises(LabError, match=rf"{tmp_path / STATE_FILE}: .*remove it once no lab process runs"):
        read_state(tmp_path)


def test_a_recorded_lab_is_stopped_by_another_process(tmp_path: Path) -> None:
    port = free_port()
    serve = f"import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); time.sleep(60)"
    child = Child("app", (sys.executable, "-c", serve), tmp_path / "logs" / "app.log").start()
    write_state(tmp_path, {"children": [child.record()], "ports": [port], "token_ids": []})
    [recorded] = state_children(read_state(tmp_path) or {})
    assert recorded.pid == child.pid and recorded.alive()

    report = stop_recorded(tmp_path, timeout=5)

    assert report is not None and report.clean, report
    assert not recorded.alive()
    assert not (tmp_path / STATE_FILE).exists()
