"""A ProxyConfig compiled into what the request path reads: per listener, a route table (or the fixed route
to the app for an inbound listener), and the cluster states the routes point at.

Compiling is all-or-nothing: a ConfigError leaves the running config untouched (the proxy Nacks the push).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from mesh_runtime import xds

from .authz import Authorizer, compile_authorizer
from .cluster import ClusterManager, ClusterSet, ClusterState
from .router import CompiledRoute, ConfigError, RouteTable, compile_route_table
from .telemetry import PEER_HEADER, encode_peer
from .tls import FileContexts, TlsConfigError

ListenerKey = tuple[str, int]
_ATTEMPT_COUNT_LIMIT = 16
#: The end of an upstream request head on attempt N (index N): Envoy's x-envoy-attempt-count, then the
#: blank line. Index 0: no attempt count (inbound), just the blank line.
ATTEMPT_ENDINGS: tuple[bytes, ...] = (b"\r\n",) + tuple(
    b"x-envoy-attempt-count: %d\r\n\r\n" % attempt for attempt in range(1, _ATTEMPT_COUNT_LIMIT + 1)
)


class ListenerConfig:
    """The compiled form of one listener; a push replaces it, the socket stays."""

    __slots__ = (
        "spec",
        "key",
        "kind",
        "table",
        "fixed_route",
        "scheme",
        "port",
        "forwarded_proto",
        "append_forwarded_for",
        "count_attempts",
        "mtls_mode",
        "server_tls",
        "authorizer",
        "authz_port",
        "peer_line",
    )

    def __init__(self, spec: xds.Listener) -> None:
        self.spec = spec
        self.key: ListenerKey = (spec.address, spec.port)
        self.kind: Literal["outbound", "inbound", "gateway"] = spec.direction
        self.table: RouteTable | None = None
        self.fixed_route: CompiledRoute | None = None
        self.port = spec.port
        self.scheme = b"https" if spec.direction == "gateway" and spec.tls.mode != "DISABLE" else b"http"
        self.forwarded_proto = b"x-forwarded-proto: %s\r\n" % self.scheme
        # Envoy at the edge (use_remote_address) appends the client address; sidecars pass it through.
        self.append_forwarded_for = spec.direction == "gateway"
        self.count_attempts = spec.direction != "inbound"
        mode = spec.peer_authentication.port_modes.get(spec.app_port, spec.peer_authentication.mode)
        self.mtls_mode: Literal["STRICT", "PERMISSIVE", "DISABLE"] = mode
        self.server_tls = spec.tls if spec.direction == "gateway" and spec.tls.mode != "DISABLE" else None
        #: Inbound and gateway listeners enforce the AuthorizationPolicies (None: no policy applies).
        self.authorizer: Authorizer | None = None
        #: The port policies' `ports` and `destination.port` see: the workload's port inbound.
        self.authz_port = spec.app_port if spec.direction == "inbound" else spec.port
        #: The peer-metadata header a client-side proxy adds (b"" inbound, where it is read and removed).
        self.peer_line = b""

    def socket_shape(self) -> tuple[object, ...]:
        """What the listening socket depends on: a change here means a new socket. (Inbound and TLS gateway
        sockets read their mTLS mode and server context at each accept, so those may change in place.)"""
        return (self.kind, self.server_tls is None)


class ListenerConfigRef:
    """The current compiled config of one listening socket; a push swaps `current`."""

    __slots__ = ("current",)

    def __init__(self, current: ListenerConfig) -> None:
        self.current = current


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledConfig:
    config: xds.ProxyConfig
    listeners: dict[ListenerKey, ListenerConfig]
    clusters: ClusterSet

    @property
    def version(self) -> str:
        return self.config.version


def inbound_cluster_name(app_port: int) -> str:
    return xds.cluster_name("inbound", app_port, "", "")


def compile_config(
    config: xds.ProxyConfig, manager: ClusterManager, file_contexts: FileContexts
) -> CompiledConfig:
    """Compile `config`; the clusters are built but not installed (`ClusterManager.install` does that)."""
    clusters, endpoints = _with_inbound_clusters(config)
    try:
        built = manager.build(clusters, endpoints)
    except TlsConfigError as exc:
        raise ConfigError(str(exc)) from None
    try:
        listeners = _compile_listeners(config, built.clusters, file_contexts)
    except (ConfigError, TlsConfigError) as exc:
        manager.discard(built)
        raise ConfigError(str(exc)) from None
    return CompiledConfig(config, listeners, built)


def _compile_listeners(
    config: xds.ProxyConfig, clusters: dict[str, ClusterState], file_contexts: FileContexts
) -> dict[ListenerKey, ListenerConfig]:
    route_configs = {route_config.name: route_config for route_config in config.route_configs}
    tables: dict[str, RouteTable] = {}
    listeners: dict[ListenerKey, ListenerConfig] = {}
    try:
        authorizer = compile_authorizer(config.authorization)
    except ValueError as exc:
        raise ConfigError(f"authorization: {exc}") from None
    peer_line = PEER_HEADER + b": " + encode_peer(config.node) + b"\r\n"
    for index, spec in enumerate(config.listeners):
        where = f"listeners[{index}] ({spec.name})"
        listener = ListenerConfig(spec)
        if spec.direction == "outbound":
            listener.peer_line = peer_line
        else:
            listener.authorizer = authorizer
            if spec.direction == "gateway":
                listener.peer_line = peer_line
        if listener.key in listeners:
            raise ConfigError(f"{where}: {spec.address}:{spec.port} is already used by another listener")
        if spec.direction == "inbound":
            if not spec.app_port:
                raise ConfigError(f"{where}: an inbound listener needs app_port")
            listener.fixed_route = _inbound_route(clusters[inbound_cluster_name(spec.app_port)])
        else:
            listener.table = _route_table(spec, where, route_configs, tables, clusters, config.node)
        if listener.server_tls is not None:
            file_contexts.server(listener.server_tls, f"{where}.tls")
        listeners[listener.key] = listener
    return listeners


def _route_table(
    spec: xds.Listener,
    where: str,
    route_configs: dict[str, xds.RouteConfiguration],
    tables: dict[str, RouteTable],
    clusters: dict[str, ClusterState],
    node: xds.Node,
) -> RouteTable:
    name = spec.route_config
    if name not in tables:
        if name:
            if name not in route_configs:
                raise ConfigError(f"{where}: route configuration {name!r} is not in route_configs")
            sources = [route_configs[name]]
        else:
            # An outbound HTTP proxy listener without a named route config serves every virtual host;
            # Envoy has a listener per port, and names the route configs after them: `reviews:9080` is in
            # "9080" only, and a bare `reviews` means port 80, so "80" comes first.
            sources = sorted(route_configs.values(), key=lambda rc: rc.name != "80")
        tables[name] = compile_route_table(name, sources, clusters, node)
    return tables[name]


def _inbound_route(cluster: ClusterState) -> CompiledRoute:
    route = CompiledRoute()
    route.name = "default"
    route.cluster = cluster
    route.cluster_name = cluster.name
    return route


def _with_inbound_clusters(
    config: xds.ProxyConfig,
) -> tuple[list[xds.Cluster], list[xds.ClusterLoadAssignment]]:
    """Every inbound listener forwards to its app on loopback, through `inbound|<port>||` (plaintext)."""
    clusters = {cluster.name: cluster for cluster in config.clusters}
    endpoints = {assignment.cluster: assignment for assignment in config.endpoints}
    for listener in config.listeners:
        if listener.direction != "inbound" or not listener.app_port:
            continue
        name = inbound_cluster_name(listener.app_port)
        existing = clusters.get(name)
        clusters[name] = dataclasses.replace(
            existing or xds.Cluster(name=name, port=listener.app_port),
            direction="inbound",
            tls=xds.TlsSettings(),
            outlier_detection=None,
        )
        if not (name in endpoints and endpoints[name].endpoints):
            app = xds.Endpoint(address="127.0.0.1", port=listener.app_port, has_sidecar=False)
            endpoints[name] = xds.ClusterLoadAssignment(name, (app,))
    return list(clusters.values()), list(endpoints.values())
