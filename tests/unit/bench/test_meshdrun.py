"""What the control-plane benchmarks apply is valid config for the runtime; meshd's proxy rows read right."""

from __future__ import annotations

import resource

from bench.meshdrun import all_synced, raise_open_files, service_names, services_yaml, virtual_service_yaml
from mesh_runtime.discovery.documents import prepare


def test_the_services_and_the_virtual_service_are_valid_config() -> None:
    services = prepare(services_yaml(3), "services", "bench")
    assert not services.errors, services.errors
    assert [d[3] for d in services.documents] == ["svc-0000", "svc-0001", "svc-0002"]
    assert {d[2] for d in services.documents} == {"bench"}
    vs = prepare(virtual_service_yaml("svc-0000", "/bench-abc-1-2"), "vs", "bench")
    assert not vs.errors, vs.errors
    assert vs.documents == [("VirtualService", "networking.istio.io", "bench", "bench-change")]
    assert service_names(2) == ["svc-0000", "svc-0001"]


def test_all_synced_needs_every_proxy_listed_and_synced() -> None:
    rows = [{"id": "a", "state": "SYNCED"}, {"id": "b", "state": "STALE"}, {"id": "c", "state": "SYNCED"}]
    assert all_synced(rows, ["a", "c"])
    assert not all_synced(rows, ["a", "b"])
    assert not all_synced(rows, ["a", "d"])


def test_raise_open_files_never_lowers_the_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_open_files(16) == soft
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft
