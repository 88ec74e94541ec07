"""The proxy's process-wide state (uvicorn's ServerState): config, clusters, listeners, counters, and the
lifecycle: apply a config, rotate certificates, drain and stop.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

from mesh_runtime import xds

from . import wire
from .accesslog import AccessLog
from .cluster import ClusterManager
from .config import CompiledConfig, ListenerConfig, ListenerConfigRef, compile_config
from .downstream import DownstreamProtocol
from .listeners import ListenerManager
from .router import ConfigError
from .runtime import ClientConnection, PeerIdentified
from .stats import Stats
from .telemetry import IstioMetrics
from .tls import (
    CredentialFiles,
    FileContexts,
    WorkloadTls,
    forwarded_client_cert,
    peer_certificate_hash,
    peer_sans,
)
from .tracing import Tracer

log = logging.getLogger("mesh_runtime.proxy")


class ProxyRuntime:
    """Shared by every connection of the process."""

    def __init__(self, node: xds.Node, loop: asyncio.AbstractEventLoop) -> None:
        self.node = node
        self.loop = loop
        self.stats = Stats()
        self.metrics = IstioMetrics(node)
        self.metrics_enabled = True
        self.tracer = Tracer()
        #: `--access-log`: one JSON line per request (None: off).
        self.access_log: AccessLog | None = None
        self.request_ids = wire.RequestIds()
        self.connections: set[ClientConnection] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.draining = False
        #: A static config without credentials: ready without a workload certificate (no mTLS used).
        self.tls_optional = False
        self.workload_tls = WorkloadTls()
        self.file_contexts = FileContexts()
        self.clusters = ClusterManager(loop, self.workload_tls, self.file_contexts)
        self.listeners = ListenerManager(self)
        self.compiled: CompiledConfig | None = None
        self.last_error = ""
        self._apply_lock = asyncio.Lock()
        self._ticker: asyncio.TimerHandle | None = None
        self._tick()

    # -- per connection ----------------------------------------------------------------------------------

    def protocol_factory(self, ref: ListenerConfigRef) -> Callable[[], DownstreamProtocol]:
        return lambda: DownstreamProtocol(self, ref)

    def server_context(self, listener: ListenerConfig) -> ssl.SSLContext | None:
        """The TLS context a listener's accepted TLS connections use; None: plaintext only."""
        if listener.kind == "inbound":
            return None if listener.mtls_mode == "DISABLE" else self.workload_tls.server
        if listener.server_tls is not None:
            return self.file_contexts.server(listener.server_tls, listener.spec.name)
        return None

    def identify_peer(self, protocol: PeerIdentified, ssl_object: Any) -> None:
        """Once per TLS connection: the peer's SPIFFE identity, and the XFCC line inbound requests carry."""
        uris = peer_sans(ssl_object)
        protocol.peer_identity = uris[0] if uris else ""
        if protocol.listener_ref.current.kind == "inbound" and protocol.peer_identity:
            protocol.client_cert_line = forwarded_client_cert(
                self.workload_tls.identity, protocol.peer_identity, peer_certificate_hash(ssl_object)
            )

    # -- config ------------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.compiled is not None and (self.workload_tls.ready or self.tls_optional)

    @property
    def version(self) -> str:
        return self.compiled.version if self.compiled is not None else ""

    async def apply(self, config: xds.ProxyConfig) -> None:
        """Serve `config` from now on; ConfigError (and the old config kept) when it cannot be served."""
        async with self._apply_lock:
            try:
                compiled = compile_config(config, self.clusters, self.file_contexts)
            except ConfigError as exc:
                self._rejected(str(exc))
                raise
            try:
                fresh = await self.listeners.prepare(compiled)
            except ConfigError as exc:
                self.clusters.discard(compiled.clusters)
                self._rejected(str(exc))
                raise
            # Make before break: clusters first, then the listeners and routes that point at them.
            self.clusters.install(compiled.clusters)
            self.listeners.commit(compiled, fresh)
            self.compiled = compiled
            self.metrics.set_node(config.node)
            self.metrics_enabled = config.telemetry.metrics
            self.tracer.configure(config.telemetry, config.node)
            if self.access_log is not None:
                self.access_log.enabled = config.telemetry.access_log
            self.last_error = ""
            self.stats.config_applied += 1

    def _rejected(self, reason: str) -> None:
        self.last_error = reason
        self.stats.config_rejected += 1
        log.warning("config rejected: %s", reason)

    def load_credentials(self, files: CredentialFiles, identity: str) -> None:
        """Load (or reload, after a rotation) the workload certificate into the mTLS contexts."""
        rotated = self.workload_tls.ready
        self.workload_tls.load(files, identity)
        self.metrics.set_identity(identity)
        if rotated:
            self.clusters.refresh_tls()

    # -- lifecycle ---------------------------------------------------------------------------------------

    def _tick(self) -> None:
        wire.DATE.tick()
        if self.access_log is not None:
            self.access_log.flush()
        self._ticker = self.loop.call_later(1.0, self._tick)

    async def drain(self, timeout: float) -> None:
        """Stop accepting, finish the requests in flight (up to `timeout`), close everything."""
        self.draining = True
        self.listeners.close()
        for connection in list(self.connections):
            if not connection.active and connection.transport is not None:
                connection.closed = True
                connection.transport.close()
        deadline = self.loop.time() + timeout
        while any(c.active for c in self.connections) and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        for cluster in self.clusters.clusters.values():
            cluster.retire()
        await self.tracer.close()
        if self.access_log is not None:
            self.access_log.close()
        if self._ticker is not None:
            self._ticker.cancel()
