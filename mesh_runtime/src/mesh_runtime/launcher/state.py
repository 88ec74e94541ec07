"""The lab's state file (`<data dir>/lab.json`): what runs, its pids, ports and tokens, written atomically
after the lab starts and read by another process to report on it (`mesh-lab status`) or stop it
(`mesh-lab down`). A missing file means no lab; an unreadable one is an error that says what to do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..ca.files import write_atomically
from .model import LabError, StopReport
from .processes import STOP_TIMEOUT, Child
from .stopping import revoke_tokens, stop_processes

STATE_FILE = "lab.json"


def write_state(data_dir: Path, state: Mapping[str, Any]) -> None:
    write_atomically(data_dir / STATE_FILE, json.dumps(state, indent=2).encode(), 0o644)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """What `write_state` recorded in `data_dir`; None when no lab was started there (or it was stopped)."""
    path = data_dir / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LabError(f"{path}: unreadable ({exc}); remove it once no lab process runs") from exc
    if not isinstance(state, dict):
        raise LabError(f"{path}: not a lab state file; remove it once no lab process runs")
    return state


def state_children(state: Mapping[str, Any]) -> list[Child]:
    return [Child.from_record(record) for record in state.get("children", [])]


def stop_recorded(data_dir: Path, timeout: float = STOP_TIMEOUT) -> StopReport | None:
    """Stop the lab recorded in `data_dir` by another process (`mesh-lab down`); None when there is none."""
    state = read_state(data_dir)
    if state is None:
        return None
    report = stop_processes(state_children(state), state.get("ports", []), timeout)
    meshd_dir = data_dir / "meshd"
    revoke_tokens(meshd_dir, str(state.get("trust_domain") or "cluster.local"), state.get("token_ids", []))
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return report
