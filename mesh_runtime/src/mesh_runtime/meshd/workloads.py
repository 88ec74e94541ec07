"""The proxies' workloads as meshd last knew them, in `<data dir>/workloads.json`, so that a restarted meshd
serves them while the proxies reconnect (istiod rebuilds its endpoints from the Kubernetes API, which
outlives it; here this file does).

Each entry is the Node the proxy said Hello with, in the xds codec's form (so a field added to Node later
still decodes from an older file), and whether its workload was healthy (its stream up). meshd rewrites the
file after each change to the proxies' workloads, atomically, on its store thread: at most one write is in
flight, and the next one takes whatever changed meanwhile. The file is soft state: a missing one means no
proxy is known yet, an unreadable one is logged and ignored (the proxies register again as they reconnect).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ca.files import PRIVATE_FILE_MODE, write_atomically
from ..xds import DecodeError, Node, decode, encode

log = logging.getLogger(__name__)

FILE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class SavedWorkload:
    node: Node
    healthy: bool


def dump_workloads(entries: Iterable[SavedWorkload]) -> bytes:
    body = {"format": FILE_FORMAT, "workloads": workloads_json(entries)}
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def workloads_json(entries: Iterable[SavedWorkload]) -> list[dict[str, Any]]:
    """The entries as the file and the config API carry them: `{"node": ..., "healthy": bool}`."""
    return [{"node": encode(e.node), "healthy": e.healthy} for e in entries]


def workloads_from_json(items: Any) -> list[SavedWorkload] | str:
    """The entries `workloads_json` gave, or what is wrong with them."""
    if not isinstance(items, list):
        return "workloads must be a list"
    entries = []
    for index, item in enumerate(items):
        entry = _entry(item)
        if isinstance(entry, str):
            return f"workloads[{index}]: {entry}"
        entries.append(entry)
    return entries


def load_workloads(path: Path) -> list[SavedWorkload]:
    """The saved workloads; none when the file is missing, or (logged) unreadable. Bad entries are skipped."""
    try:
        body = json.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot be read, starting with no proxy workloads: %s", path, exc)
        return []
    if not _is_workloads_file(body):
        log.warning("%s: not a workloads file (format %d); no proxy workloads restored", path, FILE_FORMAT)
        return []
    saved = []
    for index, entry in enumerate(body["workloads"]):
        workload = _entry(entry)
        if isinstance(workload, str):
            log.warning("%s: workloads[%d] skipped: %s", path, index, workload)
        else:
            saved.append(workload)
    return saved


def _is_workloads_file(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    return body.get("format") == FILE_FORMAT and isinstance(body.get("workloads"), list)


def _entry(entry: Any) -> SavedWorkload | str:
    """The saved workload, or what is wrong with the entry."""
    if not isinstance(entry, dict) or not isinstance(entry.get("healthy"), bool):
        return "an entry needs a node and healthy (true or false)"
    try:
        node = decode(Node, entry.get("node"), "node")
    except DecodeError as exc:
        return str(exc)
    return SavedWorkload(node, entry["healthy"])


class WorkloadFile:
    """Keeps the file up to date from the event loop: `changed()` after each change, `flush()` at the end.

    The file's content is taken on the event loop (where the registry changes); only the write runs on
    `run_in_writer`'s thread.
    """

    def __init__(
        self,
        path: Path,
        entries: Callable[[], list[SavedWorkload]],
        run_in_writer: Callable[[Callable[[], None]], Awaitable[None]],
    ) -> None:
        self.path = path
        self._entries = entries
        self._run_in_writer = run_in_writer
        self._wanted = False
        self._saving: asyncio.Task[None] | None = None
        #: Writes done so far (tests wait on it).
        self.writes = 0

    def changed(self) -> None:
        self._wanted = True
        if self._saving is None:
            self._saving = asyncio.get_running_loop().create_task(self._save())

    async def flush(self) -> None:
        """Wait until what changed so far is on disk."""
        while self._saving is not None:
            await asyncio.shield(self._saving)

    async def _save(self) -> None:
        try:
            while self._wanted:
                self._wanted = False
                await self._write(dump_workloads(self._entries()))
        finally:
            self._saving = None

    async def _write(self, data: bytes) -> None:
        try:
            await self._run_in_writer(lambda: write_atomically(self.path, data, PRIVATE_FILE_MODE))
        except OSError as exc:
            log.warning("%s: cannot be written (a restart would not know these proxies): %s", self.path, exc)
        self.writes += 1
