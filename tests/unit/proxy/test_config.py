from __future__ import annotations

import asyncio
import dataclasses

import pytest

from mesh_runtime import xds
from mesh_runtime.proxy.config import compile_config
from mesh_runtime.proxy.router import ConfigError
from mesh_runtime.proxy.server import ProxyRuntime

from .harness import CLUSTER, NODE, default_route, sidecar_config


def compile_for(config: xds.ProxyConfig, loop: asyncio.AbstractEventLoop):  # type: ignore[no-untyped-def]
    runtime = ProxyRuntime(config.node, loop)
    return runtime, compile_config(config, runtime.clusters, runtime.file_contexts)


def test_a_bad_regex_is_rejected_naming_the_route(loop: asyncio.AbstractEventLoop) -> None:
    route = default_route(matches=(xds.RouteMatch(uri=xds.StringMatch("regex", "/(")),))
    with pytest.raises(
        ConfigError, match=r"route_configs\[9080\]\.virtual_hosts\[0\]\.routes\[0\]\.matches\[0\]\.uri"
    ):
        compile_for(sidecar_config(routes=(route,)), loop)


def test_an_unknown_route_configuration_is_rejected(loop: asyncio.AbstractEventLoop) -> None:
    config = sidecar_config()
    listener = dataclasses.replace(config.listeners[0], route_config="8080")
    with pytest.raises(ConfigError, match="route configuration '8080' is not in route_configs"):
        compile_for(dataclasses.replace(config, listeners=(listener,)), loop)


def test_inbound_listener_forwards_to_its_app_over_plaintext(loop: asyncio.AbstractEventLoop) -> None:
    inbound = xds.Listener("inbound|9080", "inbound", "127.0.0.1", 15006, app_port=9080)
    config = xds.ProxyConfig("1", NODE, listeners=(inbound,))
    _, compiled = compile_for(config, loop)
    listener = compiled.listeners[("127.0.0.1", 15006)]
    route = listener.fixed_route
    assert route is not None and route.cluster is not None and route.retry is None
    (endpoint,) = route.cluster.endpoints
    assert (endpoint.address, endpoint.port, endpoint.ssl_context) == ("127.0.0.1", 9080, None)
    assert listener.mtls_mode == "PERMISSIVE"


def test_port_level_peer_authentication(loop: asyncio.AbstractEventLoop) -> None:
    policy = xds.PeerAuthentication(mode="STRICT", port_modes={9080: "DISABLE"})
    inbound = xds.Listener(
        "inbound|9080", "inbound", "127.0.0.1", 15006, app_port=9080, peer_authentication=policy
    )
    _, compiled = compile_for(xds.ProxyConfig("1", NODE, listeners=(inbound,)), loop)
    assert compiled.listeners[("127.0.0.1", 15006)].mtls_mode == "DISABLE"


def test_outbound_listener_without_route_config_prefers_port_80_for_bare_names(
    loop: asyncio.AbstractEventLoop,
) -> None:
    def config_for(port: str, cluster: str) -> xds.RouteConfiguration:
        return xds.RouteConfiguration(
            port, (xds.VirtualHost(port, ("web", f"web:{port}"), (default_route(cluster),)),)
        )

    config = xds.ProxyConfig(
        "1",
        NODE,
        listeners=(xds.Listener("outbound", "outbound", "127.0.0.1", 15001),),
        route_configs=(config_for("8080", "a"), config_for("80", "b")),
    )
    _, compiled = compile_for(config, loop)
    table = compiled.listeners[("127.0.0.1", 15001)].table
    assert table is not None
    assert table.lookup(b"web").routes[0].cluster_name == "b"  # type: ignore[union-attr]
    assert table.lookup(b"web:8080").routes[0].cluster_name == "a"  # type: ignore[union-attr]


def test_unchanged_clusters_keep_their_state_across_pushes(loop: asyncio.AbstractEventLoop) -> None:
    runtime, compiled = compile_for(sidecar_config(), loop)
    runtime.clusters.install(compiled.clusters)
    state = runtime.clusters.clusters[CLUSTER]
    pushed = compile_config(sidecar_config(endpoints=2), runtime.clusters, runtime.file_contexts)
    assert pushed.clusters.clusters[CLUSTER] is state
    assert len(state.endpoints) == 1  # nothing changes until the new config is installed
    runtime.clusters.install(pushed.clusters)
    assert len(state.endpoints) == 2
