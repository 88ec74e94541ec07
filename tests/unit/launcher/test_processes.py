"""The lab's processes: log files, SIGTERM then SIGKILL, and recognising a recorded process."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mesh_runtime.launcher.processes import Child, start_time, stop_all

IGNORES_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def child(tmp_path: Path, name: str, code: str) -> Child:
    return Child(name, (sys.executable, "-c", code), tmp_path / f"{name}.log", {"PATH": "/usr/bin:/bin"})


def wait_for_line(child_: Child, text: str) -> None:
    """Until the process printed `text` as a line of its own (the log's first lines echo the command)."""
    deadline = time.monotonic() + 30
    while text not in child_.log_path.read_text().splitlines():
        assert time.monotonic() < deadline, child_.log_tail()
        time.sleep(0.05)


def test_output_goes_to_the_log_and_sigterm_stops_it(tmp_path: Path) -> None:
    sleeper = child(tmp_path, "sleeper", "import time; print('hello', flush=True); time.sleep(60)").start()
    wait_for_line(sleeper, "hello")
    assert sleeper.alive()
    assert stop_all([sleeper], timeout=10) == []
    assert not sleeper.alive() and sleeper.returncode == -15
    assert "starting: " in sleeper.log_tail()


def test_a_process_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    stubborn = child(tmp_path, "stubborn", IGNORES_SIGTERM).start()
    wait_for_line(stubborn, "ready")
    killed = stop_all([stubborn], timeout=0.5)
    assert [c.name for c in killed] == ["stubborn"]
    assert stubborn.returncode == -9


def test_a_recorded_process_is_recognised_by_pid_and_start_time(tmp_path: Path) -> None:
    sleeper = child(tmp_path, "sleeper", "import time; time.sleep(60)").start()
    try:
        recorded = Child.from_record(sleeper.record())
        assert recorded.process is None and recorded.alive()
        # The same pid with another start time is another process: never signalled.
        impostor = Child.from_record({**sleeper.record(), "started": (sleeper.started or 0) + 1})
        assert not impostor.alive()
        assert stop_all([recorded], timeout=10) == []
        assert not recorded.alive()
    finally:
        sleeper.kill()
    assert start_time(sleeper.pid) is None
