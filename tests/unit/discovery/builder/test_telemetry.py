"""The Telemetry every proxy gets: meshd's tracing settings (MeshConfig defaultConfig.tracing)."""

from __future__ import annotations

from mesh_runtime.discovery.builder import build_proxy_config
from mesh_runtime.discovery.snapshot import MeshSettings
from mesh_runtime.xds import Telemetry
from tests.unit.discovery.snapshots import (
    bookinfo_services_yaml,
    bookinfo_sidecars,
    ingress_gateway,
    snapshot,
)


def test_tracing_settings_reach_sidecars_and_gateways() -> None:
    settings = MeshSettings(zipkin_address="127.0.0.1:9411", trace_sampling=100.0)
    nodes = [*bookinfo_sidecars(), ingress_gateway()]
    snap = snapshot(bookinfo_services_yaml(), nodes=nodes, settings=settings)
    for node in nodes:
        telemetry = build_proxy_config(snap, node).telemetry
        assert telemetry == Telemetry(trace_sampling=100.0, zipkin_address="127.0.0.1:9411"), node.id


def test_without_a_collector_istios_default_sampling_and_no_address() -> None:
    snap = snapshot(bookinfo_services_yaml(), nodes=bookinfo_sidecars())
    telemetry = build_proxy_config(snap, bookinfo_sidecars()[0]).telemetry
    assert (telemetry.zipkin_address, telemetry.trace_sampling, telemetry.metrics) == ("", 1.0, True)
