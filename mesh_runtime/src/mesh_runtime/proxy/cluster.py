"""Clusters at run time: endpoints with their connection pools, load balancer, outlier detection, circuit
breakers (connection-pool limits) and counters.

A ClusterState lives across pushes while its definition is unchanged; an endpoint-only push updates its
endpoints in place and keeps the pools of endpoints that stay. Upstream connections are kept alive and reused
(LIFO, per endpoint); a new one is opened only when none is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from mesh_runtime import xds

from . import lb
from .outlier import LOCAL_FAILURE_STATUS, OutlierDetector
from .stats import ClusterStats
from .tls import FileContexts, WorkloadTls, peer_sans
from .upstream import UpstreamConnection

UNLIMITED = sys.maxsize
_PASSTHROUGH_CACHE = 256
#: What `obtain` returns when it cannot hand over a connection at once.
CONNECTING, QUEUED, OVERFLOW = 1, 2, 3


class UpstreamUser(Protocol):
    """Who waits for a connection: the downstream request (or a mirror)."""

    def upstream_ready(self, connection: UpstreamConnection[EndpointState]) -> None: ...

    def upstream_failed(self, endpoint: EndpointState, reason: str) -> None: ...


class EndpointState:
    """One upstream host of a cluster: its pool, its load and its outlier-detection state."""

    __slots__ = (
        "cluster",
        "endpoint",
        "address",
        "port",
        "ring_key",
        "weight",
        "active_requests",
        "idle",
        "connections",
        "waiters",
        "consecutive_5xx",
        "consecutive_gateway",
        "ejected",
        "ejected_until",
        "ejection_count",
        "ssl_context",
        "sni",
        "expected_sans",
        "rq_total",
        "cx_total",
        "removed",
        "in_mesh",
    )

    def __init__(self, cluster: ClusterState, endpoint: xds.Endpoint) -> None:
        self.cluster = cluster
        self.endpoint = endpoint
        self.address = endpoint.address
        self.port = endpoint.port
        self.ring_key = f"{endpoint.address}:{endpoint.port}"
        #: A mesh peer (a workload with a sidecar): only these are told who the caller is.
        self.in_mesh = endpoint.has_sidecar
        self.weight = max(endpoint.weight, 1)
        self.active_requests = 0
        self.idle: list[UpstreamConnection[EndpointState]] = []
        self.connections = 0
        self.waiters: deque[UpstreamUser] | None = None
        self.consecutive_5xx = 0
        self.consecutive_gateway = 0
        self.ejected = False
        self.ejected_until = 0.0
        self.ejection_count = 0
        self.ssl_context: ssl.SSLContext | None = None
        self.sni: str | None = None
        self.expected_sans: frozenset[str] = frozenset()
        self.rq_total = 0
        self.cx_total = 0
        self.removed = False

    @property
    def available(self) -> bool:
        return self.endpoint.healthy and not self.ejected and not self.removed

    def close_idle(self) -> None:
        idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()


class ClusterState:
    """A cluster's endpoints, balancer, pools and limits."""

    def __init__(
        self,
        spec: xds.Cluster,
        *,
        loop: asyncio.AbstractEventLoop,
        workload_tls: WorkloadTls,
        file_contexts: FileContexts,
        tasks: set[asyncio.Task[None]],
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self._loop = loop
        self._workload_tls = workload_tls
        self._tasks = tasks
        self.stats = ClusterStats()
        pool = spec.connection_pool
        self.max_connections = pool.max_connections or UNLIMITED
        self.max_pending = pool.max_pending_requests or UNLIMITED
        self.max_requests_per_connection = pool.max_requests_per_connection or 0
        self.max_retries = pool.max_retries or UNLIMITED
        self.connect_timeout = pool.connect_timeout or 10.0
        self.idle_timeout = pool.idle_timeout
        self.connections = 0
        self.pending = 0
        self.active_retries = 0
        self.retired = False
        self.endpoints: list[EndpointState] = []
        self.balancer = _balancer(spec.load_balancer)
        self.hash_policy = spec.load_balancer if spec.load_balancer.policy == "CONSISTENT_HASH" else None
        #: Istio's PassthroughCluster: the request's own authority is the endpoint (original destination).
        self.passthrough = spec.load_balancer.policy == "PASSTHROUGH"
        self._passthrough_endpoints: dict[bytes, EndpointState] = {}
        self.outlier: OutlierDetector | None = None
        if spec.outlier_detection is not None and (
            spec.outlier_detection.consecutive_5xx_errors or spec.outlier_detection.consecutive_gateway_errors
        ):
            self.outlier = OutlierDetector(spec.outlier_detection, lambda: self.endpoints, self.rebuild)
        self._client_context: ssl.SSLContext | None = None
        if spec.tls.mode in ("SIMPLE", "MUTUAL"):
            self._client_context = file_contexts.client(spec.tls, f"clusters[{spec.name}].tls")
        self._idle_sweeper: asyncio.TimerHandle | None = None
        self.active = False

    def activate(self) -> None:
        """Start the timers (outlier sweeps, idle connection sweeps) once the cluster is in service."""
        if self.active:
            return
        self.active = True
        if self.outlier is not None:
            self.outlier.start(self._loop)
        if self.idle_timeout:
            self._idle_sweeper = self._loop.call_later(self.idle_timeout, self._sweep_idle)

    # -- endpoints ---------------------------------------------------------------------------------------

    def update_endpoints(self, endpoints: Iterable[xds.Endpoint]) -> None:
        """Replace the endpoint set; endpoints that stay keep their pools and outlier state."""
        old = {_endpoint_key(state.endpoint): state for state in self.endpoints}
        fresh: list[EndpointState] = []
        for endpoint in endpoints:
            state = old.pop(_endpoint_key(endpoint), None)
            if state is None:
                state = EndpointState(self, endpoint)
                self._configure_tls(state)
            else:
                state.endpoint = endpoint
                state.weight = max(endpoint.weight, 1)
            fresh.append(state)
        for gone in old.values():
            gone.removed = True
            gone.close_idle()
        self.endpoints = fresh
        self.rebuild()

    def rebuild(self) -> None:
        """Recompute the balancer's candidates (after an endpoint, health or ejection change)."""
        available = [state for state in self.endpoints if state.available]
        settings = self.spec.outlier_detection
        if (
            settings is not None
            and settings.min_health_percent
            and len(available) * 100 < settings.min_health_percent * len(self.endpoints)
        ):
            available = [state for state in self.endpoints if not state.removed]  # panic mode, as Envoy
        self.balancer.rebuild(available)

    def refresh_tls(self) -> None:
        """After the workload certificate rotated: new connections use it; idle ones are replaced."""
        for state in self.endpoints:
            self._configure_tls(state)
            state.close_idle()

    def _configure_tls(self, state: EndpointState) -> None:
        tls = self.spec.tls
        endpoint = state.endpoint
        if tls.mode == "ISTIO_MUTUAL" and endpoint.has_sidecar:
            state.ssl_context = self._workload_tls.client
            state.sni = tls.sni or _istio_sni(self.spec)
            sans = tls.subject_alt_names or ((endpoint.identity,) if endpoint.identity else ())
            state.expected_sans = frozenset(sans)
        elif tls.mode in ("SIMPLE", "MUTUAL") and self._client_context is not None:
            state.ssl_context = self._client_context
            state.sni = tls.sni or self.spec.service or endpoint.address
            state.expected_sans = frozenset(tls.subject_alt_names)
        else:
            state.ssl_context = None
            state.sni = None
            state.expected_sans = frozenset()

    # -- choosing ----------------------------------------------------------------------------------------

    def pick(self, key: bytes | None = None, avoid: EndpointState | None = None) -> EndpointState | None:
        """An endpoint from the balancer; on a retry, another than `avoid` when one is available."""
        chosen = self.balancer.pick(key)
        if avoid is not None and chosen is avoid and key is None:
            for _ in range(4):  # Istio's HostSelectionRetryMaxAttempts is 5
                chosen = self.balancer.pick(None)
                if chosen is not avoid:
                    break
        return chosen

    def endpoint_for(self, authority: bytes) -> EndpointState | None:
        """PASSTHROUGH: the endpoint the request names (`host[:port]`, port 80 by default), plaintext."""
        state = self._passthrough_endpoints.get(authority)
        if state is not None:
            return state
        host, port = _split_authority(authority)
        if not host or port <= 0:
            return None
        state = EndpointState(self, xds.Endpoint(address=host, port=port, has_sidecar=False))
        if len(self._passthrough_endpoints) >= _PASSTHROUGH_CACHE:
            oldest = next(iter(self._passthrough_endpoints))
            self._passthrough_endpoints.pop(oldest).close_idle()
        self._passthrough_endpoints[authority] = state
        return state

    # -- connections -------------------------------------------------------------------------------------

    def obtain(self, state: EndpointState, user: UpstreamUser) -> UpstreamConnection[EndpointState] | int:
        """An idle connection to `state` now, or CONNECTING / QUEUED (the user is called back), or
        OVERFLOW when the connection-pool limits are reached (a 503 with flag UO)."""
        idle = state.idle
        while idle:
            connection = idle.pop()
            if connection.open:
                return connection
        if self.connections >= self.max_connections:
            if self.pending >= self.max_pending:
                self.stats.upstream_rq_pending_overflow += 1
                return OVERFLOW
            if state.waiters is None:
                state.waiters = deque()
            state.waiters.append(user)
            self.pending += 1
            return QUEUED
        self._open(state, user)
        return CONNECTING

    def forget_waiter(self, state: EndpointState, user: UpstreamUser) -> None:
        if state.waiters and user in state.waiters:
            state.waiters.remove(user)
            self.pending -= 1

    def release(self, connection: UpstreamConnection[EndpointState], reusable: bool) -> None:
        """A request is done with `connection`: back to the pool, to a waiter, or closed."""
        state = connection.endpoint
        connection.owner = None
        if (
            not reusable
            or not connection.open
            or self.retired
            or state.removed
            or (self.max_requests_per_connection and connection.requests >= self.max_requests_per_connection)
        ):
            connection.close()
            return
        if state.waiters:
            user = state.waiters.popleft()
            self.pending -= 1
            self._loop.call_soon(user.upstream_ready, connection)
            return
        if self.idle_timeout:
            connection.idle_since = self._loop.time()
        state.idle.append(connection)

    def connection_closed(self, connection: UpstreamConnection[EndpointState]) -> None:
        """Called by the connection when its transport is gone."""
        state = connection.endpoint
        self.connections -= 1
        state.connections -= 1
        with contextlib.suppress(ValueError):
            state.idle.remove(connection)
        if state.waiters and self.connections < self.max_connections and not self.retired:
            user = state.waiters.popleft()
            self.pending -= 1
            self._open(state, user)

    def _open(self, state: EndpointState, user: UpstreamUser) -> None:
        self.connections += 1
        state.connections += 1
        task = self._loop.create_task(self._connect(state, user))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, state: EndpointState, user: UpstreamUser) -> None:
        self.stats.upstream_cx_total += 1
        state.cx_total += 1
        try:
            connection = await self._establish(state)
        except Exception as exc:  # every failure to connect is a UF for the request that asked
            self.connections -= 1
            state.connections -= 1
            self.stats.upstream_cx_connect_fail += 1
            if self.outlier is not None:
                self.outlier.record(state, LOCAL_FAILURE_STATUS)
            user.upstream_failed(state, _describe_connect_failure(exc))
            return
        user.upstream_ready(connection)

    async def _establish(self, state: EndpointState) -> UpstreamConnection[EndpointState]:
        context = state.ssl_context
        factory: Callable[[], UpstreamConnection[EndpointState]] = lambda: UpstreamConnection(state)  # noqa: E731
        if context is None:
            coroutine = self._loop.create_connection(factory, state.address, state.port)
        else:
            coroutine = self._loop.create_connection(
                factory,
                state.address,
                state.port,
                ssl=context,
                server_hostname=state.sni,
                ssl_handshake_timeout=self.connect_timeout,
            )
        transport, connection = await asyncio.wait_for(coroutine, self.connect_timeout)
        if state.expected_sans:
            presented = peer_sans(transport.get_extra_info("ssl_object"), ("URI", "DNS"))
            if not state.expected_sans.intersection(presented):
                transport.abort()
                self.stats.upstream_cx_tls_identity_mismatch += 1
                raise IdentityMismatch(
                    f"peer identity {', '.join(presented) or 'none'} is not "
                    f"{' or '.join(sorted(state.expected_sans))}"
                )
        return connection

    def _sweep_idle(self) -> None:
        assert self.idle_timeout
        deadline = self._loop.time() - self.idle_timeout
        for state in self.endpoints:
            for connection in [c for c in state.idle if c.idle_since <= deadline]:
                connection.close()
        self._idle_sweeper = self._loop.call_later(self.idle_timeout, self._sweep_idle)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def retire(self) -> None:
        """No longer in the config: idle connections close now, busy ones when their request ends."""
        self.retired = True
        if self.outlier is not None:
            self.outlier.stop()
        if self._idle_sweeper is not None:
            self._idle_sweeper.cancel()
        for state in self.endpoints:
            state.close_idle()


class IdentityMismatch(ConnectionError):
    """The upstream's certificate does not carry the identity the cluster expects."""


def _describe_connect_failure(exc: BaseException) -> str:
    if isinstance(exc, IdentityMismatch):
        return f"TLS error: {exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "connect timeout"
    return type(exc).__name__ if not str(exc) else str(exc)


def _split_authority(authority: bytes) -> tuple[str, int]:
    text = authority.decode("latin-1").strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    try:
        return host, int(port_text) if port_text else 80
    except ValueError:
        return host, -1


def _endpoint_key(endpoint: xds.Endpoint) -> tuple[str, int, str, bool]:
    return (endpoint.address, endpoint.port, endpoint.identity, endpoint.has_sidecar)


def _istio_sni(spec: xds.Cluster) -> str:
    """Istio's SNI for mesh mTLS: `outbound_.9080_.v1_.reviews.default.svc.cluster.local`."""
    return f"outbound_.{spec.port}_.{spec.subset}_.{spec.service}" if spec.service else spec.name


def _balancer(settings: xds.LoadBalancer) -> lb.LoadBalancer[EndpointState]:
    if settings.policy == "ROUND_ROBIN":
        return lb.RoundRobin()
    if settings.policy == "RANDOM":
        return lb.Random()
    if settings.policy == "CONSISTENT_HASH":
        return lb.RingHash()
    return lb.LeastRequest()


class ClusterSet:
    """Clusters built for a config, and the endpoint updates to apply to those already in service."""

    def __init__(self) -> None:
        self.clusters: dict[str, ClusterState] = {}
        self.updates: list[tuple[ClusterState, tuple[xds.Endpoint, ...]]] = []


class ClusterManager:
    """All clusters of the current config; a push reuses the states of unchanged clusters."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        workload_tls: WorkloadTls,
        file_contexts: FileContexts,
    ) -> None:
        self._loop = loop
        self._workload_tls = workload_tls
        self._file_contexts = file_contexts
        self.tasks: set[asyncio.Task[None]] = set()
        self.clusters: dict[str, ClusterState] = {}

    def build(
        self, clusters: Iterable[xds.Cluster], endpoints: Iterable[xds.ClusterLoadAssignment]
    ) -> ClusterSet:
        """The cluster states for a new config. Nothing in service changes until `install`: new clusters
        are new objects, and endpoint changes to clusters in service wait in `ClusterSet.updates`."""
        assignments = {assignment.cluster: assignment.endpoints for assignment in endpoints}
        built = ClusterSet()
        for spec in clusters:
            state = self.clusters.get(spec.name)
            found = assignments.get(spec.name, ())
            if state is None or state.spec != spec:
                state = ClusterState(
                    spec,
                    loop=self._loop,
                    workload_tls=self._workload_tls,
                    file_contexts=self._file_contexts,
                    tasks=self.tasks,
                )
                state.update_endpoints(found)
            elif tuple(e.endpoint for e in state.endpoints) != tuple(found):
                built.updates.append((state, tuple(found)))
            built.clusters[spec.name] = state
        return built

    def install(self, built: ClusterSet) -> None:
        for state, endpoints in built.updates:
            state.update_endpoints(endpoints)
        for name, state in self.clusters.items():
            if built.clusters.get(name) is not state:
                state.retire()
        for state in built.clusters.values():
            state.activate()
        self.clusters = built.clusters

    def discard(self, built: ClusterSet) -> None:
        """A config that was not installed: drop the states it created."""
        for name, state in built.clusters.items():
            if self.clusters.get(name) is not state:
                state.retire()

    def refresh_tls(self) -> None:
        for state in self.clusters.values():
            state.refresh_tls()
