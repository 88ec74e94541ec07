"""A service port's endpoints: built once per snapshot for every proxy, found through the label index."""

from __future__ import annotations

from dataclasses import replace

from mesh_runtime.discovery.builder.endpoints import service_endpoints
from tests.unit.discovery.snapshots import bookinfo_snapshot


def test_every_proxy_gets_the_same_endpoints_built_once_per_snapshot() -> None:
    snapshot = bookinfo_snapshot()
    reviews = snapshot.service("reviews.default.svc.cluster.local")
    assert reviews is not None
    (port,) = reviews.ports
    first = service_endpoints(snapshot, reviews, port)
    assert {e.workload for e in first} == {"reviews-v1", "reviews-v2", "reviews-v3"}
    assert service_endpoints(snapshot, reviews, port) is first
    # Another snapshot (the next revision) builds its own, even when made from this one.
    later = replace(snapshot, revision=snapshot.revision + 1)
    again = service_endpoints(later, reviews, port)
    assert again == first and again is not first


def test_the_index_finds_by_the_first_label_and_every_label_still_matches() -> None:
    snapshot = bookinfo_snapshot()
    reviews = snapshot.service("reviews.default.svc.cluster.local")
    assert reviews is not None
    (port,) = reviews.ports
    narrow = replace(reviews, selector={"app": "reviews", "version": "v2"})
    assert [e.workload for e in service_endpoints(snapshot, narrow, port)] == ["reviews-v2"]
    nobody = replace(reviews, selector={"version": "v2", "app": "ratings"})
    assert service_endpoints(snapshot, nobody, port) == ()
