"""meshd running: three listeners on one event loop, state from the data directory, clean shutdown.

15012  TLS, client certificates optional  CA + discovery stream   (ControlPlaneHandler)
15080  TLS                                config API, admin token (ConfigApiHandler)
15014  plain HTTP                         monitoring              (MonitoringHandler)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from ..ca import BootstrapTokens
from ..configapi.client import ApiClient
from ..discovery.snapshot import MeshSettings
from ..discovery.store import ConfigStore
from ..xds.heartbeat import DEFAULT_INTERVAL as DEFAULT_HEARTBEAT_INTERVAL
from .api import ConfigApiHandler
from .control import ControlPlaneHandler
from .datadir import Initialized
from .follower import Follower
from .http import Handler, HttpProtocol
from .monitoring import MonitoringHandler
from .proxies import GRACE_PERIOD
from .revisions import DEFAULT_REVISION, RevisionApi, Revisions
from .state import MeshState

log = logging.getLogger("meshd")

DISCOVERY_PORT = 15012
MONITORING_PORT = 15014
API_PORT = 15080


@dataclass(frozen=True, slots=True)
class ServeOptions:
    listen_address: str = "0.0.0.0"
    discovery_port: int = DISCOVERY_PORT
    monitoring_port: int = MONITORING_PORT
    api_port: int = API_PORT
    #: MeshConfig defaultConfig.tracing, pushed to every proxy in its Telemetry.
    zipkin_address: str = ""
    trace_sampling: float = 1.0
    debounce_after: float = 0.1
    debounce_max: float = 10.0
    #: Seconds between Pings on a discovery stream; silent for three of them, it is closed as dead.
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    #: Seconds a workload whose proxy went away stays registered (unhealthy) before it is removed.
    workload_grace_period: float = GRACE_PERIOD
    #: This control plane's revision (Istio's istio.io/rev); a follower's is not the primary's.
    revision: str = DEFAULT_REVISION
    #: A follower: the primary's config API (host, port), whose config and workloads it mirrors.
    follow: tuple[str, int] | None = None


class ListenError(Exception):
    pass


@dataclass
class Meshd:
    init: Initialized
    options: ServeOptions = field(default_factory=ServeOptions)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    addresses: dict[str, str] = field(default_factory=dict)

    async def run(self) -> None:
        """Serve until `stop` is set (SIGTERM or SIGINT set it), then shut down cleanly."""
        init, options = self.init, self.options
        loop = asyncio.get_running_loop()
        following = options.follow is not None
        store = ConfigStore(
            init.data_dir.revision_store(options.revision) if following else init.data_dir.store
        )
        state = MeshState(
            store,
            MeshSettings(
                trust_domain=init.trust_domain,
                zipkin_address=options.zipkin_address,
                trace_sampling=options.trace_sampling,
            ),
            debounce_after=options.debounce_after,
            debounce_max=options.debounce_max,
            grace_period=options.workload_grace_period,
            workloads_file=(
                init.data_dir.revision_workloads(options.revision) if following else init.data_dir.workloads
            ),
            mirrored=following,
        )
        state.restore_workloads()
        revisions = Revisions(
            state,
            options.revision,
            lambda: self.addresses.get("discovery", ""),
            options.workload_grace_period,
        )
        tokens = BootstrapTokens(init.data_dir.bootstrap_tokens, init.trust_domain)
        control = ControlPlaneHandler(
            state, init.ca, tokens, init.trust_domain, heartbeat_interval=options.heartbeat_interval
        )
        api = ConfigApiHandler(
            state, init.admin_token, RevisionApi(state, revisions), follows=self._primary_url()
        )
        monitoring = MonitoringHandler(
            state, init.ca.metrics, lambda: self.addresses.get("monitoring", ""), revisions
        )
        connections: set[asyncio.Transport] = set()
        servers: list[asyncio.Server] = []
        push_task = loop.create_task(state.push.run())
        follow_task: asyncio.Task[None] | None = None
        try:
            for name, port, handler, context in (
                ("discovery", options.discovery_port, control, self._tls_context(client_certs=True)),
                ("config API", options.api_port, api, self._tls_context(client_certs=False)),
                ("monitoring", options.monitoring_port, monitoring, None),
            ):
                server = await self._listen(name, port, handler, context, connections)
                servers.append(server)
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop.set)
            if options.follow is not None:
                follower = Follower(
                    state,
                    ApiClient(*options.follow, init.admin_token, self._client_context()),
                    options.revision,
                    lambda: self.addresses.get("discovery", ""),
                    report_interval=options.heartbeat_interval,
                )
                follow_task = loop.create_task(follower.run())
            monitoring.ready = True
            log.info(
                "meshd ready: discovery %s, config API %s, monitoring %s, trust domain %s, data %s, "
                "revision %s%s",
                self.addresses["discovery"],
                self.addresses["config API"],
                self.addresses["monitoring"],
                init.trust_domain,
                init.data_dir.root,
                options.revision,
                f" following {self._primary_url()}" if following else "",
            )
            await self.stop.wait()
            log.info("meshd shutting down")
        finally:
            monitoring.ready = False
            state.begin_shutdown()
            for server in servers:
                server.close()
            for connection in list(state.push.connections.values()):
                connection.close("meshd is shutting down")
            for transport in list(connections):
                transport.close()
            for task in (push_task, follow_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            revisions.close()
            await asyncio.sleep(0)  # let the closing transports run their callbacks
            await state.close()
            control.close()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            log.info("meshd stopped")

    async def _listen(
        self,
        name: str,
        port: int,
        handler: Handler,
        context: ssl.SSLContext | None,
        connections: set[asyncio.Transport],
    ) -> asyncio.Server:
        host = self.options.listen_address
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                lambda: HttpProtocol(handler, connections, name),
                host,
                port,
                ssl=context,
                reuse_address=True,
                ssl_handshake_timeout=10.0 if context else None,
            )
        except OSError as exc:
            raise ListenError(
                f"cannot listen for the {name} on {host}:{port}: {exc.strerror or exc}"
            ) from exc
        bound = server.sockets[0].getsockname()
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.addresses[name] = f"{shown}:{bound[1]}"
        return server

    def _primary_url(self) -> str:
        if self.options.follow is None:
            return ""
        host, port = self.options.follow
        return f"https://{f'[{host}]' if ':' in host else host}:{port}"

    def _client_context(self) -> ssl.SSLContext:
        """A follower's, to call the primary: the primary's serving certificate is of the same CA."""
        return ssl.create_default_context(cadata=self.init.ca.trust_bundle())

    def _tls_context(self, client_certs: bool) -> ssl.SSLContext:
        """Built once: meshd's serving certificate; on 15012, client certificates of the mesh's CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.init.serving_cert, self.init.serving_key)
        if client_certs:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cadata=self.init.ca.trust_bundle())
        return context


def data_dir_path(value: str) -> Path:
    return Path(value).expanduser().resolve()
