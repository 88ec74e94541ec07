"""Traffic mirroring (Istio's mirror / mirrorPercentage): a copy of the request goes to another cluster, fire
and forget. The copy's Host gets Envoy's `-shadow` suffix; its response is read and dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cluster import OVERFLOW, ClusterState, EndpointState
from .upstream import PASS, UpstreamConnection

if TYPE_CHECKING:
    from .server import ProxyRuntime

#: A mirror that has not finished by then is dropped.
MIRROR_TIMEOUT = 30.0


class _Discard:
    """Where a mirrored response goes."""

    __slots__ = ()

    def write(self, data: bytes) -> None:
        pass


_DISCARD = _Discard()


class MirrorRequest:
    def __init__(self, runtime: ProxyRuntime, cluster: ClusterState, head: bytes, head_request: bool) -> None:
        self.transport = _DISCARD
        self._runtime = runtime
        self._cluster = cluster
        self._head = head
        self._head_request = head_request
        self._endpoint: EndpointState | None = None
        self._connection: UpstreamConnection | None = None
        self._timer = runtime.loop.call_later(MIRROR_TIMEOUT, self._give_up)

    def start(self) -> None:
        endpoint = self._cluster.pick()
        if endpoint is None:
            self._timer.cancel()
            return
        self._endpoint = endpoint
        self._cluster.stats.upstream_rq_mirrored += 1
        result = self._cluster.obtain(endpoint, self)
        if isinstance(result, UpstreamConnection):
            self.upstream_ready(result)
        elif result == OVERFLOW:
            self._timer.cancel()

    def upstream_ready(self, connection: UpstreamConnection) -> None:
        if self._connection is not None or self._timer.cancelled():
            self._cluster.release(connection, reusable=True)
            return
        self._connection = connection
        connection.begin(self, rewrite=False, head_request=self._head_request)
        connection.transport.write(self._head)

    def upstream_failed(self, endpoint: EndpointState, reason: str) -> None:
        self._timer.cancel()

    def upstream_headers(self, connection: UpstreamConnection, status: int) -> int:
        return PASS

    def upstream_body(self, connection: UpstreamConnection, data: bytes) -> None:
        pass

    def upstream_done(self, connection: UpstreamConnection) -> None:
        self._timer.cancel()
        self._connection = None
        self._cluster.release(connection, reusable=connection.keep_alive)

    def upstream_lost(self, connection: UpstreamConnection, error: str) -> None:
        self._timer.cancel()
        self._connection = None

    def upstream_paused(self, paused: bool) -> None:
        pass

    def _give_up(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.owner = None
            self._cluster.release(connection, reusable=False)
        elif self._endpoint is not None:
            self._cluster.forget_waiter(self._endpoint, self)


def send_mirror(
    runtime: ProxyRuntime,
    cluster: ClusterState,
    method: bytes,
    path: bytes,
    lines: list[bytes],
    authority: bytes,
) -> None:
    """Send a copy of a bodiless request (its head as forwarded) to `cluster`."""
    shadow_host = authority.split(b":", 1)
    shadow = shadow_host[0] + b"-shadow" + (b":" + shadow_host[1] if len(shadow_host) > 1 else b"")
    head_lines = [
        b"host: " + shadow + b"\r\n" if line[:5].lower() == b"host:" else line for line in lines[:-1]
    ]
    head_lines.append(b"\r\n")
    MirrorRequest(runtime, cluster, b"".join(head_lines), method == b"HEAD").start()
