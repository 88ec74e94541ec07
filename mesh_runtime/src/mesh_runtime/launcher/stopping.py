"""How a lab's processes stop, whether this process started them (`Lab.stop`) or another did
(`mesh-lab down`, from the state file): SIGTERM to all, SIGKILL after the timeout, then a check that no
process is alive and no port is still taken; and the revocation of the bootstrap tokens the lab issued."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from ..ca import BootstrapTokens
from .model import StopReport
from .ports import is_free
from .processes import STOP_TIMEOUT, Child, still_alive, stop_all
from .readiness import POLL_INTERVAL


def stop_processes(children: list[Child], ports: Iterable[int], timeout: float = STOP_TIMEOUT) -> StopReport:
    """Stop every process, then check that none is alive and no port is still taken."""
    killed = stop_all(children, timeout)
    report = StopReport(killed=[c.name for c in killed])
    report.alive = [c.name for c in still_alive(children)]
    deadline = time.monotonic() + timeout
    busy = list(ports)
    while busy and time.monotonic() < deadline:
        busy = [p for p in busy if not is_free(p)]
        if busy:
            time.sleep(POLL_INTERVAL)
    report.busy_ports = busy
    return report


def revoke_tokens(meshd_dir: Path, trust_domain: str, token_ids: Iterable[str]) -> None:
    """Revoke the lab's bootstrap tokens in meshd's token file (nothing when meshd never made one)."""
    path = meshd_dir / "bootstrap-tokens.json"
    if not path.exists():
        return
    tokens = BootstrapTokens(path, trust_domain)
    for token_id in token_ids:
        tokens.revoke(token_id)
