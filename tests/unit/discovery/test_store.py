"""The SQLite config store: transactions, outcomes, revisions, namespaces, persistence."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mesh_runtime.discovery.store import (
    ConfigStore,
    LabelConflict,
    PutNamespace,
    PutObject,
    StoreError,
    WriteResult,
)


def vs(name: str, host: str = "reviews", namespace: str = "default") -> PutObject:
    body = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hosts": [host]},
    }
    return PutObject("VirtualService", namespace, name, body)


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    return ConfigStore(tmp_path / "store.db")


def test_created_configured_unchanged_and_the_revision(store: ConfigStore) -> None:
    assert store.revision == 0
    assert store.write([vs("a")]) == [WriteResult("VirtualService", "default", "a", "created")]
    assert store.revision == 1
    assert store.write([vs("a")])[0].outcome == "unchanged"
    assert store.revision == 1
    assert store.write([vs("a", host="ratings"), vs("b")])[0].outcome == "configured"
    assert store.revision == 2
    a, b = store.objects("VirtualService")
    assert (a.name, a.revision, a.created_revision, b.revision) == ("a", 2, 1, 2)
    assert a.body["spec"]["hosts"] == ("ratings",)


def test_documents_are_frozen(store: ConfigStore) -> None:
    store.write([vs("a")])
    stored = store.get("VirtualService", "default", "a")
    assert stored is not None
    with pytest.raises(TypeError):
        stored.body["spec"]["hosts"] = ()  # type: ignore[index]


def test_dry_run_reports_without_storing(store: ConfigStore) -> None:
    assert store.write([vs("a")], dry_run=True)[0].outcome == "created"
    assert store.objects() == [] and store.revision == 0


def test_state_survives_reopening(tmp_path: Path) -> None:
    first = ConfigStore(tmp_path / "store.db")
    first.write([PutNamespace("default", labels={"istio-injection": "enabled"}), vs("a")])
    first.close()
    again = ConfigStore(tmp_path / "store.db")
    assert again.revision == 1
    assert [o.name for o in again.objects()] == ["a"]
    namespace = again.namespace("default")
    assert namespace is not None and dict(namespace.labels) == {"istio-injection": "enabled"}
    journal = sqlite3.connect(tmp_path / "store.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"


def test_documents_keep_their_key_order_across_reopening(tmp_path: Path) -> None:
    body = {
        "kind": "VirtualService",
        "apiVersion": "networking.istio.io/v1",
        "metadata": {"namespace": "default", "name": "a"},
        "spec": {"http": [], "hosts": ["reviews"]},
    }
    first = ConfigStore(tmp_path / "store.db")
    first.write([PutObject("VirtualService", "default", "a", body)])
    first.close()
    stored = ConfigStore(tmp_path / "store.db").get("VirtualService", "default", "a")
    assert stored is not None
    assert list(stored.body) == ["kind", "apiVersion", "metadata", "spec"]
    assert list(stored.body["metadata"]) == ["namespace", "name"]
    assert list(stored.body["spec"]) == ["http", "hosts"]


def test_a_failing_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "store.db")
    bad = PutObject("VirtualService", "default", "bad", {"spec": {"values": {1, 2}}})
    with pytest.raises(TypeError):
        store.write([vs("good"), bad])
    assert store.objects() == [] and store.revision == 0
    store.close()
    assert ConfigStore(tmp_path / "store.db").objects() == []


def test_namespaces_and_labels(store: ConfigStore) -> None:
    assert store.write([PutNamespace("default", ensure_only=True)]) == []
    assert store.write([PutNamespace("default", ensure_only=True)]) == []
    changes = PutNamespace("default", label_changes={"istio-injection": "enabled"}, overwrite=False)
    assert store.write([changes])[0].outcome == "configured"
    assert store.write([changes])[0].outcome == "unchanged"
    with pytest.raises(LabelConflict, match="istio-injection"):
        store.write([PutNamespace("default", label_changes={"istio-injection": "disabled"}, overwrite=False)])
    removal = PutNamespace("default", label_changes={"istio-injection": None})
    assert store.write([removal])[0].outcome == "configured"
    record = store.namespace("default")
    assert record is not None and dict(record.labels) == {}
    assert store.write([PutNamespace("new", labels={"a": "b"})])[0].outcome == "created"


def test_delete_and_delete_namespace(store: ConfigStore) -> None:
    store.write([PutNamespace("prod", ensure_only=True), vs("a", namespace="prod"), vs("b")])
    assert store.delete("VirtualService", "default", "b")
    assert not store.delete("VirtualService", "default", "b")
    doomed = store.delete_namespace("prod")
    assert doomed is not None and [o.name for o in doomed] == ["a"]
    assert store.objects() == [] and store.namespace("prod") is None
    assert store.delete_namespace("prod") is None


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_text("not a database at all, just text" * 100)
    with pytest.raises(StoreError, match=str(path)):
        ConfigStore(path)


def test_replace_makes_the_store_exactly_what_it_is_given(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "mirror.db")
    store.write([vs("a"), vs("b"), PutNamespace("default", labels={"istio-injection": "enabled"})])
    revision = store.revision
    changed = store.replace([vs("b"), vs("c", namespace="prod")], {"prod": {"istio.io/rev": "canary"}})
    assert changed == {"VirtualService", "Namespace"}
    assert [(o.namespace, o.name) for o in store.objects()] == [("default", "b"), ("prod", "c")]
    assert {n.name: dict(n.labels) for n in store.namespaces()} == {"prod": {"istio.io/rev": "canary"}}
    assert store.revision == revision + 1
    # The same again changes nothing, and the revision stays.
    assert store.replace([vs("b"), vs("c", namespace="prod")], {"prod": {"istio.io/rev": "canary"}}) == set()
    assert store.revision == revision + 1
    store.close()
    reopened = ConfigStore(tmp_path / "mirror.db")
    assert [(o.namespace, o.name) for o in reopened.objects()] == [("default", "b"), ("prod", "c")]
    reopened.close()
