"""The proxy benchmark's own logic: the sidecar's static config, the run order, the figures."""

from __future__ import annotations

from bench.proxy import CLUSTER, Cost, rotated, route_figures, sidecar_config
from mesh_runtime import xds


def test_the_sidecar_config_routes_details_to_the_upstream_with_tracing_when_asked() -> None:
    config = xds.decode(xds.ProxyConfig, sidecar_config(19101, 18080, zipkin="127.0.0.1:18080"), "config")
    (listener,) = config.listeners
    assert (listener.port, listener.route_config) == (19101, "9080")
    (assignment,) = config.endpoints
    assert assignment.cluster == CLUSTER
    assert [(e.address, e.port) for e in assignment.endpoints] == [("127.0.0.1", 18080)]
    assert config.telemetry.zipkin_address == "127.0.0.1:18080"
    plain = xds.decode(xds.ProxyConfig, sidecar_config(1, 2), "config")
    assert plain.telemetry.zipkin_address == ""


def test_each_proxy_goes_first_in_turn() -> None:
    items = ["a", "b", "c"]
    assert [rotated(items, turn) for turn in range(4)] == [  # type: ignore[arg-type]
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_the_route_target_needs_the_median_and_every_run() -> None:
    def costs(sidecar: list[float]) -> dict[str, list[Cost]]:
        return {
            "sidecar": [Cost(us, 1.0, 0, 25.0) for us in sidecar],
            "nginx": [Cost(20.0, 1.0, 0, 9.0)] * len(sidecar),
            "haproxy": [Cost(19.0, 1.0, 0, 15.0)] * len(sidecar),
        }

    met, against_haproxy, memory = route_figures(costs([22.0, 23.0, 24.0, 23.0, 22.0]))
    assert met.met is True and against_haproxy.met is None and memory.met is True
    one_bad_run = route_figures(costs([22.0, 23.0, 29.0, 23.0, 22.0]))[0]
    assert one_bad_run.met is False, "a run above 1.4 × nginx misses the target whatever the median"
    assert route_figures(costs([25.0, 25.0, 24.0]))[0].met is False
