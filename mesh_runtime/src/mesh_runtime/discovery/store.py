"""The config store: resources and namespaces in SQLite (WAL), changed only in whole transactions.

Every write that changes something moves the store's revision on by one; each row remembers the revision
that last changed it. Reads are served from an in-memory copy that a write replaces (never edits) once its
transaction has committed, so readers on the event loop never touch the database and never see half a write.
Documents are kept as the user applied them (server-set metadata stripped) and handed out frozen.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from .frozen import freeze, thaw

SCHEMA_VERSION = 1
Outcome = Literal["created", "configured", "unchanged"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    labels TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_revision INTEGER NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
"""


class StoreError(Exception):
    """The database cannot be opened, read or written; the message names the file."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    kind: str  # the bare kind name: VirtualService, Service, WorkloadEntry…
    namespace: str
    name: str
    #: The document as applied (frozen), metadata.namespace filled in.
    body: Mapping[str, Any]
    revision: int
    created_revision: int
    created: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class NamespaceRecord:
    name: str
    labels: Mapping[str, str]
    revision: int
    created: str


@dataclass(frozen=True, slots=True)
class PutObject:
    """Create or replace one resource."""

    kind: str
    namespace: str
    name: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PutNamespace:
    """Create a namespace, or set its labels: all of them (`labels`), or some (`label_changes`, None removes).

    `ensure_only`: create it without labels if missing, change nothing otherwise (namespaces that resources
    are applied into).
    """

    name: str
    labels: Mapping[str, str] | None = None
    label_changes: Mapping[str, str | None] = field(default_factory=dict)
    ensure_only: bool = False
    #: False: changing the value of an existing label is refused (kubectl label without --overwrite).
    overwrite: bool = True


Write = PutObject | PutNamespace


@dataclass(frozen=True, slots=True)
class WriteResult:
    kind: str  # "Namespace" for namespaces
    namespace: str
    name: str
    outcome: Outcome


def canonical(body: Any) -> str:
    """The text two documents are compared by: JSON with sorted keys."""
    return json.dumps(thaw(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _as_written(body: Any) -> str:
    """The text a document is stored as: JSON in the order it was written, so `get` shows it unchanged."""
    return json.dumps(thaw(body), separators=(",", ":"), ensure_ascii=False)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ConfigStore:
    """The store in one SQLite file. Thread-safe; writes are serialised and each is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            self._check_schema()
            self._objects, self._namespaces, self._revision = self._load()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the config store: {exc}") from exc

    # -- reading (in memory) --------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._revision

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[StoredObject]:
        """Stored resources, oldest first (creation order), optionally of one kind and/or namespace."""
        found = [
            o
            for o in self._objects.values()
            if (kind is None or o.kind == kind) and (namespace is None or o.namespace == namespace)
        ]
        return sorted(found, key=lambda o: (o.created_revision, o.kind, o.namespace, o.name))

    def get(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        return self._objects.get((kind, namespace, name))

    def namespaces(self) -> list[NamespaceRecord]:
        return sorted(self._namespaces.values(), key=lambda n: n.name)

    def namespace(self, name: str) -> NamespaceRecord | None:
        return self._namespaces.get(name)

    # -- writing --------------------------------------------------------------------------------------------

    def write(self, writes: Sequence[Write], dry_run: bool = False) -> list[WriteResult]:
        """Apply `writes` in order, in one transaction; what each did. `dry_run`: report, store nothing.

        A PutNamespace without `overwrite` whose label_changes would change a label's value raises
        LabelConflict, and nothing is written.
        """
        with self._lock:
            objects = dict(self._objects)
            namespaces = dict(self._namespaces)
            revision = self._revision + 1
            now = _now()
            results: list[WriteResult] = []
            changed_objects: dict[tuple[str, str, str], StoredObject] = {}
            changed_namespaces: dict[str, NamespaceRecord] = {}
            for item in writes:
                if isinstance(item, PutNamespace):
                    result, record = _put_namespace(namespaces, item, revision, now)
                    if record is not None:
                        namespaces[record.name] = changed_namespaces[record.name] = record
                    if result is not None:
                        results.append(result)
                else:
                    result, stored = _put_object(objects, item, revision, now)
                    if stored is not None:
                        objects[stored.key] = changed_objects[stored.key] = stored
                    results.append(result)
            if dry_run or not (changed_objects or changed_namespaces):
                return results
            self._commit(revision, changed_objects.values(), changed_namespaces.values(), (), ())
            self._objects, self._namespaces, self._revision = objects, namespaces, revision
            return results

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Delete one resource; False when there is none."""
        with self._lock:
            key = (kind, namespace, name)
            if key not in self._objects:
                return False
            objects = dict(self._objects)
            del objects[key]
            revision = self._revision + 1
            self._commit(revision, (), (), (key,), ())
            self._objects, self._revision = objects, revision
            return True

    def delete_namespace(self, name: str) -> list[StoredObject] | None:
        """Delete a namespace and every resource in it (as Kubernetes does); None when there is none."""
        with self._lock:
            if name not in self._namespaces:
                return None
            doomed = [o for o in self._objects.values() if o.namespace == name]
            objects = {k: o for k, o in self._objects.items() if o.namespace != name}
            namespaces = {k: n for k, n in self._namespaces.items() if k != name}
            revision = self._revision + 1
            self._commit(revision, (), (), [o.key for o in doomed], (name,))
            self._objects, self._namespaces, self._revision = objects, namespaces, revision
            return doomed

    def replace(self, objects: Sequence[PutObject], namespaces: Mapping[str, Mapping[str, str]]) -> set[str]:
        """Make the store hold exactly `objects` and `namespaces` (name: labels), in one transaction, as a
        follower mirrors its primary's store; the kinds that changed ("Namespace" for namespaces)."""
        with self._lock:
            revision = self._revision + 1
            now = _now()
            objects_after: dict[tuple[str, str, str], StoredObject] = {}
            changed_objects: list[StoredObject] = []
            for item in objects:
                _, stored = _put_object(self._objects, item, revision, now)
                key = (item.kind, item.namespace, item.name)
                if stored is not None:
                    changed_objects.append(stored)
                objects_after[key] = stored or self._objects[key]
            namespaces_after: dict[str, NamespaceRecord] = {}
            changed_namespaces: list[NamespaceRecord] = []
            for name, labels in namespaces.items():
                _, record = _put_namespace(self._namespaces, PutNamespace(name, labels=labels), revision, now)
                if record is not None:
                    changed_namespaces.append(record)
                namespaces_after[name] = record or self._namespaces[name]
            gone = [key for key in self._objects if key not in objects_after]
            gone_namespaces = [name for name in self._namespaces if name not in namespaces_after]
            changed = {o.kind for o in changed_objects} | {key[0] for key in gone}
            if changed_namespaces or gone_namespaces:
                changed.add("Namespace")
            if not changed:
                return changed
            self._commit(revision, changed_objects, changed_namespaces, gone, gone_namespaces)
            self._objects, self._namespaces, self._revision = objects_after, namespaces_after, revision
            return changed

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the database ---------------------------------------------------------------------------------------

    def _commit(
        self,
        revision: int,
        objects: Iterable[StoredObject],
        namespaces: Iterable[NamespaceRecord],
        deleted_objects: Iterable[tuple[str, str, str]],
        deleted_namespaces: Iterable[str],
    ) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO resources "
                    "(kind, namespace, name, body, revision, created_revision, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            o.kind,
                            o.namespace,
                            o.name,
                            _as_written(o.body),
                            o.revision,
                            o.created_revision,
                            o.created,
                        )
                        for o in objects
                    ],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO namespaces (name, labels, revision, created) VALUES (?, ?, ?, ?)",
                    [(n.name, canonical(n.labels), n.revision, n.created) for n in namespaces],
                )
                db.executemany(
                    "DELETE FROM resources WHERE kind = ? AND namespace = ? AND name = ?",
                    list(deleted_objects),
                )
                db.executemany("DELETE FROM namespaces WHERE name = ?", [(n,) for n in deleted_namespaces])
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('revision', ?)", (str(revision),)
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot write to the config store: {exc}") from exc

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: the store has schema version {row[0]}, this meshd reads {SCHEMA_VERSION}"
            )

    def _load(
        self,
    ) -> tuple[dict[tuple[str, str, str], StoredObject], dict[str, NamespaceRecord], int]:
        objects: dict[tuple[str, str, str], StoredObject] = {}
        for kind, namespace, name, body, revision, created_revision, created in self._db.execute(
            "SELECT kind, namespace, name, body, revision, created_revision, created FROM resources"
        ):
            stored = StoredObject(
                kind, namespace, name, freeze(json.loads(body)), revision, created_revision, created
            )
            objects[stored.key] = stored
        namespaces = {
            name: NamespaceRecord(name, MappingProxyType(json.loads(labels)), revision, created)
            for name, labels, revision, created in self._db.execute(
                "SELECT name, labels, revision, created FROM namespaces"
            )
        }
        row = self._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return objects, namespaces, int(row[0]) if row else 0


class LabelConflict(Exception):
    """Labelling without overwrite would change labels that already have a value."""

    def __init__(self, namespace: str, conflicts: list[str]) -> None:
        super().__init__("; ".join(f"{c}, and --overwrite is false" for c in conflicts))
        self.namespace = namespace
        self.conflicts = conflicts


def label_conflicts(record: NamespaceRecord | None, changes: Mapping[str, str | None]) -> list[str]:
    """The labels `changes` would give another value (kubectl refuses those without --overwrite), as
    `'key' already has a value (current)`."""
    if record is None:
        return []
    return [
        f"{key!r} already has a value ({record.labels[key]})"
        for key, value in changes.items()
        if value is not None and key in record.labels and record.labels[key] != value
    ]


def _put_namespace(
    namespaces: Mapping[str, NamespaceRecord], item: PutNamespace, revision: int, now: str
) -> tuple[WriteResult | None, NamespaceRecord | None]:
    existing = namespaces.get(item.name)
    if not item.overwrite:
        conflicts = label_conflicts(existing, item.label_changes)
        if conflicts:
            raise LabelConflict(item.name, conflicts)
    if item.ensure_only:
        if existing is not None:
            return None, None
        return None, NamespaceRecord(item.name, MappingProxyType({}), revision, now)
    base = item.labels if item.labels is not None else (existing.labels if existing else {})
    labels = dict(base)
    for key, value in item.label_changes.items():
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
    if existing is None:
        record = NamespaceRecord(item.name, MappingProxyType(labels), revision, now)
        return WriteResult("Namespace", "", item.name, "created"), record
    if labels == dict(existing.labels):
        return WriteResult("Namespace", "", item.name, "unchanged"), None
    record = NamespaceRecord(item.name, MappingProxyType(labels), revision, existing.created)
    return WriteResult("Namespace", "", item.name, "configured"), record


def _put_object(
    objects: Mapping[tuple[str, str, str], StoredObject], item: PutObject, revision: int, now: str
) -> tuple[WriteResult, StoredObject | None]:
    existing = objects.get((item.kind, item.namespace, item.name))
    body = freeze(item.body)
    if existing is None:
        stored = StoredObject(item.kind, item.namespace, item.name, body, revision, revision, now)
        return WriteResult(item.kind, item.namespace, item.name, "created"), stored
    if canonical(existing.body) == canonical(body):
        return WriteResult(item.kind, item.namespace, item.name, "unchanged"), None
    stored = StoredObject(
        item.kind, item.namespace, item.name, body, revision, existing.created_revision, existing.created
    )
    return WriteResult(item.kind, item.namespace, item.name, "configured"), stored
