from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from mesh_runtime import xds
from mesh_runtime.ca.identity import Identity
from mesh_runtime.proxy.agent import Agent, AgentSettings, load_config_file, save_config
from mesh_runtime.proxy.router import ConfigError
from mesh_runtime.proxy.server import ProxyRuntime
from mesh_runtime.xds import protocol
from tests.ports import free_port

from .harness import CLUSTER, default_route, sidecar_config


def agent_for(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> Agent:
    config = sidecar_config()
    runtime = ProxyRuntime(config.node, loop)
    settings = AgentSettings(
        discovery_host="127.0.0.1",
        discovery_port=15012,
        data_dir=tmp_path,
        ca_file=tmp_path / "root.pem",
        token_file=None,
        identity=Identity("cluster.local", "default", "bookinfo-productpage"),
    )
    return Agent(runtime, settings)


def inbound_only(version: str) -> xds.ProxyConfig:
    # No outbound listener: nothing binds a port in these tests.
    config = sidecar_config()
    return dataclasses.replace(config, version=version, listeners=())


def test_a_push_is_applied_acked_and_kept_on_disk(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    agent = agent_for(tmp_path, loop)
    answer = loop.run_until_complete(agent.handle_push(protocol.Push("v1", "n1", inbound_only("ignored"))))
    assert answer == protocol.Ack("v1", "n1")
    assert agent.runtime.version == "v1"
    assert load_config_file(tmp_path / "config.json").version == "v1"


def test_a_bad_push_is_nacked_and_the_old_config_stays(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    agent = agent_for(tmp_path, loop)
    loop.run_until_complete(agent.handle_push(protocol.Push("v1", "n1", inbound_only("v1"))))
    bad_route = default_route(matches=(xds.RouteMatch(uri=xds.StringMatch("regex", "(")),))
    bad = dataclasses.replace(
        inbound_only("v2"),
        route_configs=(xds.RouteConfiguration("9080", (xds.VirtualHost("r", ("r",), (bad_route,)),)),),
        listeners=(xds.Listener("outbound", "outbound", "127.0.0.1", 0),),
    )
    answer = loop.run_until_complete(agent.handle_push(protocol.Push("v2", "n2", bad)))
    assert isinstance(answer, protocol.Nack) and "not valid RE2" in answer.error
    assert agent.runtime.version == "v1"
    assert load_config_file(tmp_path / "config.json").version == "v1"


def test_endpoint_only_push_replaces_the_endpoints(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    agent = agent_for(tmp_path, loop)
    early = loop.run_until_complete(agent.handle_push(protocol.Push("v0", "n0", None, ())))
    assert isinstance(early, protocol.Nack)
    loop.run_until_complete(agent.handle_push(protocol.Push("v1", "n1", inbound_only("v1"))))
    fresh = xds.ClusterLoadAssignment(
        CLUSTER, (xds.Endpoint("10.1.1.1", 9080), xds.Endpoint("10.1.1.2", 9080))
    )
    answer = loop.run_until_complete(agent.handle_push(protocol.Push("v2", "n2", None, (fresh,))))
    assert answer == protocol.Ack("v2", "n2")
    cluster = agent.runtime.clusters.clusters[CLUSTER]
    assert [e.address for e in cluster.endpoints] == ["10.1.1.1", "10.1.1.2"]


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"c\.json: not JSON"):
        load_config_file(path)
    path.write_text('{"version": "1"}')
    with pytest.raises(ConfigError, match=r"c\.json: .*node"):
        load_config_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "missing.json")
    save_config(tmp_path, sidecar_config())
    assert load_config_file(tmp_path / "config.json") == sidecar_config()


def test_the_same_config_pushed_again_after_a_reconnect_keeps_listeners_clusters_and_endpoints(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    """A restarted meshd sends a returning proxy the config it serves, under a new version: nothing is
    rebound or rebuilt (its sockets, connection pools and counters carry on)."""
    agent = agent_for(tmp_path, loop)
    port = free_port()
    config = dataclasses.replace(
        sidecar_config(endpoints=2), listeners=(xds.Listener("outbound", "outbound", "127.0.0.1", port),)
    )
    runtime = agent.runtime
    try:
        assert loop.run_until_complete(
            agent.handle_push(protocol.Push("7.41", "n1", config))
        ) == protocol.Ack("7.41", "n1")
        (listener,) = runtime.listeners.bound.values()
        cluster = runtime.clusters.clusters[CLUSTER]
        endpoints = list(cluster.endpoints)
        answer = loop.run_until_complete(agent.handle_push(protocol.Push("7.1", "n2", config)))
        assert answer == protocol.Ack("7.1", "n2") and runtime.version == "7.1"
        assert list(runtime.listeners.bound.values()) == [listener]
        assert runtime.clusters.clusters[CLUSTER] is cluster and not cluster.retired
        assert cluster.endpoints == endpoints  # the same endpoint states, pools and counters
    finally:
        runtime.listeners.close()
