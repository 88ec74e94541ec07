"""Sans-io harness for the proxy: protocols driven by bytes, with transports that record what is written.

No sockets: a downstream connection gets a MockTransport; upstream connections are put in the endpoint's idle
pool with their own MockTransport, so the request path takes them synchronously (as a pooled connection in
production). Responses are fed into `UpstreamConnection.data_received`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mesh_runtime import xds
from mesh_runtime.proxy.cluster import ClusterState, EndpointState
from mesh_runtime.proxy.config import ListenerConfigRef
from mesh_runtime.proxy.downstream import DownstreamProtocol
from mesh_runtime.proxy.server import ProxyRuntime
from mesh_runtime.proxy.upstream import UpstreamConnection

CLUSTER = "outbound|9080||reviews.default.svc.cluster.local"
NODE = xds.Node(
    id="productpage-v1.default",
    type="sidecar",
    namespace="default",
    workload="productpage-v1",
    service_account="bookinfo-productpage",
    labels={"app": "productpage", "version": "v1"},
)


class MockTransport:
    def __init__(self, peer: tuple[str, int] = ("127.0.0.1", 40000)) -> None:
        self.buffer = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.extra: dict[str, Any] = {"peername": peer}

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.buffer += data

    def writelines(self, parts: list[bytes]) -> None:
        for part in parts:
            self.write(part)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def default_route(cluster: str = CLUSTER, **changes: Any) -> xds.Route:
    return xds.Route(name="default", clusters=(xds.WeightedCluster(cluster),), **changes)


def sidecar_config(
    routes: tuple[xds.Route, ...] | None = None,
    endpoints: int = 1,
    cluster: xds.Cluster | None = None,
    domains: tuple[str, ...] = ("reviews", "reviews:9080", "reviews.default.svc.cluster.local:9080"),
) -> xds.ProxyConfig:
    cluster = cluster or xds.Cluster(name=CLUSTER, service="reviews.default.svc.cluster.local", port=9080)
    return xds.ProxyConfig(
        version="1",
        node=NODE,
        listeners=(xds.Listener("outbound", "outbound", "127.0.0.1", 15001),),
        route_configs=(
            xds.RouteConfiguration(
                "9080", (xds.VirtualHost("reviews:9080", domains, routes or (default_route(),)),)
            ),
        ),
        clusters=(cluster,),
        endpoints=(
            xds.ClusterLoadAssignment(
                cluster.name,
                tuple(xds.Endpoint(f"10.0.0.{n + 1}", 9080, has_sidecar=False) for n in range(endpoints)),
            ),
        ),
    )


@dataclass
class Upstream:
    connection: UpstreamConnection[EndpointState]
    transport: MockTransport

    def respond(self, data: bytes) -> None:
        self.connection.data_received(data)


@dataclass
class Harness:
    loop: asyncio.AbstractEventLoop
    runtime: ProxyRuntime
    ref: ListenerConfigRef
    upstreams: list[Upstream] = field(default_factory=list)

    def cluster(self, name: str = CLUSTER) -> ClusterState:
        return self.runtime.clusters.clusters[name]

    def endpoints(self, name: str = CLUSTER) -> list[EndpointState]:
        return self.cluster(name).endpoints

    def pool(self, count: int = 1, name: str = CLUSTER) -> list[Upstream]:
        """Put `count` idle connections in front of each endpoint of `name`."""
        made = []
        for endpoint in self.endpoints(name):
            for _ in range(count):
                connection = UpstreamConnection(endpoint)
                transport = MockTransport(("10.0.0.1", 9080))
                endpoint.cluster.connections += 1
                endpoint.connections += 1
                connection.connection_made(transport)
                endpoint.idle.append(connection)
                made.append(Upstream(connection, transport))
        self.upstreams += made
        return made

    def connect(
        self, peer: tuple[str, int] = ("127.0.0.1", 40000)
    ) -> tuple[DownstreamProtocol, MockTransport]:
        protocol = DownstreamProtocol(self.runtime, self.ref)
        transport = MockTransport(peer)
        protocol.connection_made(transport)
        return protocol, transport

    def written_upstream(self) -> Iterator[tuple[Upstream, bytes]]:
        for upstream in self.upstreams:
            if upstream.transport.buffer:
                yield upstream, upstream.transport.take()


def make_harness(config: xds.ProxyConfig, loop: asyncio.AbstractEventLoop) -> Harness:
    runtime = ProxyRuntime(config.node, loop)
    runtime.tls_optional = True
    from mesh_runtime.proxy.config import compile_config

    compiled = compile_config(config, runtime.clusters, runtime.file_contexts)
    runtime.clusters.install(compiled.clusters)
    runtime.compiled = compiled
    listener = next(iter(compiled.listeners.values()))
    return Harness(loop, runtime, ListenerConfigRef(listener))


OK_RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello"


def response(status: int, body: bytes = b"", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)


def head_of(data: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    """The request line and the headers (lower-case names) of the first message in `data`."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return head[0], headers
