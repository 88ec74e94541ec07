"""The monitoring port: readiness, versions, metrics and Prometheus service discovery."""

from __future__ import annotations

import asyncio
import json

from mesh_runtime import __version__
from mesh_runtime.ca import CAMetrics
from mesh_runtime.meshd.http import Response
from mesh_runtime.meshd.monitoring import PROMETHEUS_CONTENT_TYPE, MonitoringHandler
from mesh_runtime.meshd.state import MeshState
from tests.unit.discovery.snapshots import sidecar
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
        {"ID": "productpage-v1.default", "IstioVersion": "0.1.0", "Type": "sidecar"}
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
