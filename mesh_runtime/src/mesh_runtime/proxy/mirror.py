"""Traffic mirroring (Istio's mirror / mirrors with mirrorPercentage): a copy of the request goes to another
cluster, fire and forget. The copy's Host gets Envoy's `-shadow` suffix; its response is read and dropped.

A request without a body is mirrored as soon as it is routed. A request with a body is mirrored once the whole
body has arrived, with the body the proxy already keeps for retries (wire.RETRY_BUFFER_LIMIT): as Envoy's
router, a body larger than that buffer abandons the mirror (counted in the route cluster's
`retry_or_shadow_abandoned`); no connection is opened for it and it is not counted as mirrored. The copy keeps
the framing of the head it carries: a content-length body as it came, a chunked body re-chunked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cluster import OVERFLOW, ClusterState, EndpointState
from .upstream import PASS, UpstreamConnection
from .wire import LAST_CHUNK, chunk

if TYPE_CHECKING:
    from .runtime import ConnectionRuntime

#: A mirror that has not finished by then is dropped.
MIRROR_TIMEOUT = 30.0


class _Discard:
    """Where a mirrored response goes."""

    __slots__ = ()

    def write(self, data: bytes) -> None:
        pass


_DISCARD = _Discard()


class MirrorRequest:
    def __init__(
        self,
        runtime: ConnectionRuntime,
        cluster: ClusterState,
        head: bytes,
        head_request: bool,
        body: bytes = b"",
    ) -> None:
        self.transport = _DISCARD
        self._runtime = runtime
        self._cluster = cluster
        self._head = head
        self._body = body
        self._head_request = head_request
        self._endpoint: EndpointState | None = None
        self._connection: UpstreamConnection[EndpointState] | None = None
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

    def upstream_ready(self, connection: UpstreamConnection[EndpointState]) -> None:
        if self._connection is not None or self._timer.cancelled():
            self._cluster.release(connection, reusable=True)
            return
        self._connection = connection
        connection.begin(self, rewrite=False, head_request=self._head_request)
        if self._body:
            connection.transport.writelines((self._head, self._body))
        else:
            connection.transport.write(self._head)

    def upstream_failed(self, endpoint: EndpointState, reason: str) -> None:
        self._timer.cancel()

    def upstream_headers(self, connection: UpstreamConnection[EndpointState], status: int) -> int:
        return PASS

    def upstream_body(self, connection: UpstreamConnection[EndpointState], data: bytes) -> None:
        pass

    def upstream_done(self, connection: UpstreamConnection[EndpointState]) -> None:
        self._timer.cancel()
        self._connection = None
        self._cluster.release(connection, reusable=connection.keep_alive)

    def upstream_lost(self, connection: UpstreamConnection[EndpointState], error: str) -> None:
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


def shadow_head(lines: list[bytes], authority: bytes) -> bytes:
    """The head of the copy: the request's head as forwarded (`lines`, the last one being the end of the head
    or the attempt count), with `-shadow` added to the host."""
    host, colon, port = authority.partition(b":")
    host_line = b"host: " + host + b"-shadow" + colon + port + b"\r\n"
    head_lines = [host_line if line[:5].lower() == b"host:" else line for line in lines[:-1]]
    head_lines.append(b"\r\n")
    return b"".join(head_lines)


def send_mirror(
    runtime: ConnectionRuntime, cluster: ClusterState, head: bytes, head_request: bool, body: bytes = b""
) -> None:
    """Send a copy of a request (shadow head, then the whole body framed as that head says) to `cluster`."""
    MirrorRequest(runtime, cluster, head, head_request, body).start()


def mirror_body(pieces: list[bytes], chunked: bool) -> bytes:
    """A whole request body, received as `pieces`, framed for the copy."""
    if chunked:
        return b"".join([*map(chunk, pieces), LAST_CHUNK])
    return b"".join(pieces)
