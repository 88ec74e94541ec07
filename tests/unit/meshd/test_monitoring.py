"""The monitoring port: readiness, versions, metrics and Prometheus service discovery."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from mesh_runtime import __version__
from mesh_runtime.ca import CAMetrics
from mesh_runtime.meshd.http import Response
from mesh_runtime.meshd.monitoring import PROMETHEUS_CONTENT_TYPE, MonitoringHandler
from mesh_runtime.meshd.state import MeshState
from tests.unit.discovery.snapshots import ingress_gateway, sidecar
from tests.unit.meshd.fakes import request


def get(
    loop: asyncio.AbstractEventLoop, handler: MonitoringHandler, path: str, method: str = "GET"
) -> Response:
    response = loop.run_until_complete(handler(request(method, path)))
    assert isinstance(response, Response)
    return response


def test_monitoring_endpoints(loop: asyncio.AbstractEventLoop, state: MeshState) -> None:
    handler = MonitoringHandler(state, CAMetrics(), lambda: "127.0.0.1:15014")
    assert get(loop, handler, "/ready").status == 503
    handler.ready = True
    assert get(loop, handler, "/ready").body == b"ready\n"
    node = sidecar("productpage-v1", "productpage", app_port=19080, inbound_port=15106)

    async def connect() -> None:
        state.proxy_connected(node, lambda line: None, lambda reason: None)

    loop.run_until_complete(connect())
    version = json.loads(get(loop, handler, "/version").body)
    assert version["meshVersion"][0]["Info"]["version"] == __version__
    assert version["dataPlaneVersion"] == [
        {"ID": "productpage-v1.default", "IstioVersion": "0.1.0", "Type": "sidecar", "Revision": "default"}
    ]
    metrics = get(loop, handler, "/metrics")
    assert metrics.content_type == PROMETHEUS_CONTENT_TYPE
    text = metrics.body.decode()
    assert (
        "citadel_server_csr_count 0" in text
        and "pilot_xds 1" in text
        and 'pilot_xds_pushes{type="cds"} 1' in text
    )
    assert 'pilot_proxy_convergence_time_bucket{le="+Inf"} 0' in text
    targets = json.loads(get(loop, handler, "/v1/sd").body)
    assert targets[0]["targets"] == ["127.0.0.1:15000"]
    assert (
        targets[0]["labels"]["label_app"] == "productpage" and targets[0]["labels"]["proxy_type"] == "sidecar"
    )
    assert targets[1] == {
        "targets": ["127.0.0.1:15014"],
        "labels": {"__metrics_path__": "/metrics", "job": "meshd", "namespace": "istio-system"},
    }
    assert get(loop, handler, "/nope").status == 404
    assert get(loop, handler, "/metrics", method="POST").status == 405


def test_a_proxy_with_a_stats_port_is_scraped_on_its_address(
    loop: asyncio.AbstractEventLoop, state: MeshState
) -> None:
    handler = MonitoringHandler(state, CAMetrics(), lambda: "198.18.0.10:15014")
    on_node = replace(
        sidecar("reviews-v1", "reviews", app_port=19081, inbound_port=15107),
        address="198.18.0.11",
        stats_port=15090,
        node_name="node01",
    )
    on_loopback = sidecar("ratings-v1", "ratings", app_port=19082, inbound_port=15108)
    gateway_v6 = replace(ingress_gateway(), address="::1", stats_port=15091, admin_port=0)

    async def connect() -> None:
        for node in (on_node, on_loopback, gateway_v6):
            state.proxy_connected(node, lambda line: None, lambda reason: None)

    loop.run_until_complete(connect())
    targets = {g["labels"].get("proxy"): g for g in json.loads(get(loop, handler, "/v1/sd").body)}
    assert targets["reviews-v1.default"]["targets"] == ["198.18.0.11:15090"]
    assert targets["reviews-v1.default"]["labels"]["node"] == "node01"
    # Without a stats port, the admin port: loopback, so only a Prometheus on the proxy's host reaches it.
    assert targets["ratings-v1.default"]["targets"] == ["127.0.0.1:15000"]
    assert "node" not in targets["ratings-v1.default"]["labels"]
    assert targets["istio-ingressgateway.istio-system"]["targets"] == ["[::1]:15091"]
    assert targets[None]["targets"] == ["198.18.0.10:15014"]
