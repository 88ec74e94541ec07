"""The whole mesh on this machine, as real processes: meshd, every workload's app and sidecar, the gateways.

`Lab(spec, data_dir).start()` does, in order: `meshd init`; a bootstrap token per workload identity;
`meshd serve` on free loopback ports, waited for on /ready; the namespaces, Services (and WorkloadEntries of
workloads without a sidecar) and the spec's resources applied through the config API; every app bound to
loopback and, beside it, its `mesh-proxy sidecar` with its own port block (the app's HTTP_PROXY is the
sidecar's outbound port); every `mesh-proxy gateway`; then it waits until every proxy is ready and every
proxy's clusters list the endpoints the spec implies. `stop()` sends SIGTERM to all, SIGKILL after a timeout,
and checks that no process and no port is left. Any failure on the way stops what was started and says which
process failed, with the end of its log.

```
<data dir>/
  meshd/            meshd's data directory (store, CA, root-cert.pem, admin-token)
  tokens/           a bootstrap token per identity (<namespace>.<service account>, 0600)
  proxies/<id>/     each proxy's key, certificate and last good config
  logs/             meshd.log, <workload>.app.log, <proxy id>.proxy.log
  lab.json          what runs (pids, ports) for `mesh-lab status|down`
```
"""

from __future__ import annotations

import functools
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..ca import BootstrapTokens
from ..ca.files import PRIVATE_FILE_MODE, write_atomically
from ..command.errors import CommandError
from ..configapi.client import ApiClient
from .documents import registry_documents
from .model import Gateway, LabError, MeshdPorts, StopReport, Workload, child_environment
from .ports import LOOPBACK, PortAllocator, is_listening
from .processes import STOP_TIMEOUT, Child, stop_all
from .readiness import convergence_problems, expected_endpoints, is_ok, sync_problems, wait_for
from .spec import GatewaySpec, LabSpec, WorkloadSpec
from .state import STATE_FILE, read_state, state_children, write_state
from .stopping import revoke_tokens, stop_processes

START_TIMEOUT = 90.0
PROXY_DRAIN_SECONDS = 2.0


class Lab:
    def __init__(
        self,
        spec: LabSpec,
        data_dir: Path,
        *,
        python: str = sys.executable,
        log_level: str = "info",
        start_timeout: float = START_TIMEOUT,
        meshd_flags: Sequence[str] = (),
        proxy_flags: Sequence[str] = (),
    ) -> None:
        self.spec = spec
        self.data_dir = data_dir.expanduser().absolute()
        self.python = python
        self.log_level = log_level
        self.start_timeout = start_timeout
        #: More `meshd serve` flags (e.g. `--workload-grace-period 5s`).
        self.meshd_flags = tuple(meshd_flags)
        #: More flags for every `mesh-proxy` (e.g. `--access-log=-`: into the proxy's log).
        self.proxy_flags = tuple(proxy_flags)
        self.allocator = PortAllocator()
        self.meshd_ports: MeshdPorts | None = None
        self.meshd: Child | None = None
        self.workloads: dict[str, Workload] = {}
        self.gateways: dict[str, Gateway] = {}
        self.token_ids: list[str] = []

    # -- layout --------------------------------------------------------------------------------------------

    @property
    def meshd_dir(self) -> Path:
        return self.data_dir / "meshd"

    @property
    def root_cert(self) -> Path:
        return self.meshd_dir / "root-cert.pem"

    def token_file(self, namespace: str, service_account: str) -> Path:
        return self.data_dir / "tokens" / f"{namespace}.{service_account}.token"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    def children(self) -> list[Child]:
        """Every process of the lab, gateways and sidecars first, meshd last."""
        found: list[Child] = [g.proxy for g in self.gateways.values()]
        found += [w.proxy for w in self.workloads.values() if w.proxy is not None]
        found += [w.app for w in self.workloads.values()]
        if self.meshd is not None:
            found.append(self.meshd)
        return found

    def ports(self) -> list[int]:
        return sorted(self.allocator.taken)

    # -- start ---------------------------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Lab:
        """Start everything, wait until the mesh serves; on failure stop what started, raise LabError."""
        self._refuse_if_running()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # A new lab's proxies start afresh: a previous lab's keys and last good configs name its ports.
            shutil.rmtree(self.data_dir / "proxies", ignore_errors=True)
            self._plan()
            self._init_meshd()
            self._issue_tokens()
            self.start_meshd()
            self.apply(self.registry_documents(), source=f"mesh-lab:{self.spec.name}")
            for child in self.children():
                if child is not self.meshd:
                    child.start()
            self.save_state()
            self.wait_ready()
            self.wait_converged()
        except BaseException:
            self.stop()
            raise
        return self

    def _refuse_if_running(self) -> None:
        state = read_state(self.data_dir)
        if state is None:
            return
        running = [c.name for c in state_children(state) if c.alive()]
        if running:
            raise LabError(
                f"a lab is already running in {self.data_dir} ({', '.join(running)}): "
                f"stop it first (mesh-lab down --data-dir {self.data_dir})"
            )

    def _plan(self) -> None:
        """Ports for every process, and the processes (not started yet)."""
        self.meshd_ports = MeshdPorts(*(self.allocator.allocate() for _ in range(3)))
        for spec in self.spec.workloads:
            app_port = self.allocator.reserve(spec.app_port) if spec.app_port else self.allocator.allocate()
            # A sidecar's port block: inbound (mTLS, in front of the app), outbound (the app's proxy), admin,
            # stats (what Prometheus scrapes).
            inbound, outbound, admin, stats = (
                (self.allocator.allocate() for _ in range(4)) if spec.sidecar else (0, 0, 0, 0)
            )
            app = self._app_child(spec, app_port, outbound)
            workload = Workload(spec, app_port, app, inbound, outbound, admin, stats_port=stats)
            if spec.sidecar:
                workload.proxy = self._sidecar_child(workload)
            self.workloads[spec.proxy_id] = workload
        for gateway_spec in self.spec.gateways:
            ports = {
                p.port: self.allocator.reserve(p.target_port) if p.target_port else self.allocator.allocate()
                for p in gateway_spec.ports
            }
            admin_port, stats_port = self.allocator.allocate(), self.allocator.allocate()
            child = self._gateway_child(gateway_spec, admin_port, stats_port)
            self.gateways[gateway_spec.proxy_id] = Gateway(gateway_spec, ports, admin_port, child, stats_port)

    def _meshd_command(self, *args: str) -> list[str]:
        return [self.python, "-m", "mesh_runtime.meshd", *args]

    def _init_meshd(self) -> None:
        log = self.logs / "meshd.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = self._meshd_command(
            "init", "--data-dir", str(self.meshd_dir), "--trust-domain", self.spec.trust_domain
        )
        with log.open("ab") as output:
            result = subprocess.run(
                command, stdout=output, stderr=subprocess.STDOUT, env=child_environment(), timeout=60
            )
        if result.returncode != 0:
            raise LabError(f"'meshd init' failed ({result.returncode}); see {log}:\n{_tail(log)}")

    def _issue_tokens(self) -> None:
        tokens = BootstrapTokens(self.meshd_dir / "bootstrap-tokens.json", self.spec.trust_domain)
        (self.data_dir / "tokens").mkdir(mode=0o700, exist_ok=True)
        for namespace, service_account in self.spec.identities():
            issued = tokens.issue(
                [f"{namespace}/{service_account}"], description=f"mesh-lab {self.spec.name}"
            )
            write_atomically(
                self.token_file(namespace, service_account), (issued.token + "\n").encode(), PRIVATE_FILE_MODE
            )
            self.token_ids.append(issued.grant.token_id)

    def start_meshd(self) -> None:
        """Start `meshd serve` (on the ports of its first start, when it is restarted) and wait for /ready."""
        ports = self.meshd_ports
        if ports is None:
            raise LabError("the lab's ports are not chosen yet: start() chooses them")
        self.meshd = Child(
            "meshd",
            tuple(
                self._meshd_command(
                    "serve",
                    "--data-dir",
                    str(self.meshd_dir),
                    "--trust-domain",
                    self.spec.trust_domain,
                    "--listen-address",
                    LOOPBACK,
                    "--discovery-port",
                    str(ports.discovery),
                    "--api-port",
                    str(ports.api),
                    "--monitoring-port",
                    str(ports.monitoring),
                    "--log-level",
                    self.log_level,
                    *self._tracing_flags(),
                    *self.meshd_flags,
                )
            ),
            self.logs / "meshd.log",
            child_environment(),
        ).start()
        ready = f"http://{LOOPBACK}:{ports.monitoring}/ready"
        self._wait("meshd to answer /ready", functools.partial(is_ok, ready), [self.meshd])
        if self.state_file.exists():  # restarted: `mesh-lab status|down` must find this process
            self.save_state()

    def _tracing_flags(self) -> list[str]:
        flags = []
        if self.spec.zipkin_address:
            flags += ["--zipkin-address", self.spec.zipkin_address]
        if self.spec.trace_sampling is not None:
            flags += ["--trace-sampling", str(self.spec.trace_sampling)]
        return flags

    def stop_meshd(self, kill: bool = False) -> None:
        """Stop meshd alone (SIGKILL with `kill`), leaving the data plane running."""
        if self.meshd is None:
            return
        if kill:
            self.meshd.kill()
        else:
            stop_all([self.meshd], STOP_TIMEOUT)

    def _app_child(self, spec: WorkloadSpec, app_port: int, outbound_port: int) -> Child:
        values = {
            "{python}": self.python,
            "{app_port}": str(app_port),
            "{host}": LOOPBACK,
            "{name}": spec.name,
            "{namespace}": spec.namespace,
        }
        # As in a pod, HOSTNAME names the instance (Bookinfo's reviews shows it as "served by").
        extra = {"HOSTNAME": spec.name}
        extra.update({k: _substitute(v, values) for k, v in spec.env.items()})
        if outbound_port:
            proxy = f"http://{LOOPBACK}:{outbound_port}"
            extra.update({"HTTP_PROXY": proxy, "http_proxy": proxy})
        return Child(
            f"{spec.name} app",
            tuple(_substitute(word, values) for word in spec.command),
            self.logs / f"{spec.name}.app.log",
            child_environment(extra),
        )

    def _proxy_command(
        self,
        mode: str,
        name: str,
        namespace: str,
        service_account: str,
        labels: Mapping[str, str],
        *ports: str,
    ) -> tuple[str, ...]:
        ports_ = self.meshd_ports
        assert ports_ is not None
        return (
            self.python,
            "-m",
            "mesh_runtime.proxy",
            mode,
            f"--namespace={namespace}",
            f"--workload={name}",
            f"--service-account={service_account}",
            f"--labels={','.join(f'{k}={v}' for k, v in labels.items())}",
            f"--address={LOOPBACK}",
            *ports,
            f"--trust-domain={self.spec.trust_domain}",
            f"--discovery={LOOPBACK}:{ports_.discovery}",
            f"--token-file={self.token_file(namespace, service_account)}",
            f"--ca-file={self.root_cert}",
            f"--data-dir={self.data_dir / 'proxies' / f'{name}.{namespace}'}",
            f"--drain-seconds={PROXY_DRAIN_SECONDS}",
            f"--log-level={self.log_level}",
            *self.proxy_flags,
        )

    def _sidecar_child(self, workload: Workload) -> Child:
        spec = workload.spec
        command = self._proxy_command(
            "sidecar",
            spec.name,
            spec.namespace,
            spec.service_account,
            spec.labels,
            f"--inbound-port={workload.inbound_port}",
            f"--outbound-port={workload.outbound_port}",
            f"--admin-port={workload.admin_port}",
            f"--stats-port={workload.stats_port}",
            f"--app-port={workload.app_port}",
        )
        return Child(
            f"{spec.proxy_id} sidecar", command, self.logs / f"{spec.proxy_id}.proxy.log", child_environment()
        )

    def _gateway_child(self, spec: GatewaySpec, admin_port: int, stats_port: int) -> Child:
        command = self._proxy_command(
            "gateway",
            spec.name,
            spec.namespace,
            spec.service_account,
            spec.labels,
            # Each Gateway server port is bound where the gateway's Service sends it (its targetPort).
            "--inbound-port=0",
            f"--admin-port={admin_port}",
            f"--stats-port={stats_port}",
        )
        return Child(
            f"{spec.proxy_id} gateway", command, self.logs / f"{spec.proxy_id}.proxy.log", child_environment()
        )

    def registry_documents(self) -> list[dict[str, Any]]:
        """What the lab registers before its proxies start (`documents.registry_documents`)."""
        return registry_documents(self.spec, self.workloads, self.gateways)

    # -- config API ----------------------------------------------------------------------------------------

    def api(self) -> ApiClient:
        if self.meshd_ports is None:
            raise LabError("meshd has not been started")
        return api_client(self.meshd_dir, self.meshd_ports.api)

    def request(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        try:
            response = self.api().request(method, path, body, query)
        except CommandError as exc:
            raise LabError(str(exc)) from exc
        if not response.ok:
            raise LabError(f"meshd answered {method} {path} with {response.status}: {response.body}")
        return response.body

    def apply(self, documents: Iterable[Mapping[str, Any]], source: str) -> list[dict[str, Any]]:
        text = yaml.safe_dump_all(list(documents), sort_keys=False)
        if not text.strip():
            return []
        try:
            response = self.api().request("POST", "/v1/apply", {"documents": text, "source": source})
        except CommandError as exc:
            raise LabError(str(exc)) from exc
        if response.status == 422:
            errors = response.body.get("errors", []) if isinstance(response.body, dict) else []
            lines = [f"  {e.get('resource')} {e.get('path')}: {e.get('message')}" for e in errors]
            raise LabError(f"meshd refused the lab's documents ({source}):\n" + "\n".join(lines))
        if not response.ok:
            raise LabError(f"meshd answered the apply of {source} with {response.status}: {response.body}")
        results: list[dict[str, Any]] = response.body.get("results", [])
        return results

    def proxy_rows(self) -> list[dict[str, Any]]:
        """`meshctl proxy-status` rows of every proxy connected to meshd."""
        rows: list[dict[str, Any]] = self.request("GET", "/v1/proxies")["items"]
        return rows

    def store_revision(self) -> int:
        """The store's revision (what a push after the last write, a delete included, at least carries)."""
        listed = self.request("GET", "/v1/resources")
        if isinstance(listed.get("revision"), int):
            return int(listed["revision"])
        items = listed["items"]
        versions = [int(i.get("metadata", {}).get("resourceVersion") or 0) for i in items]
        return max(versions, default=0)

    # -- waiting -------------------------------------------------------------------------------------------

    def proxy_ids(self) -> list[str]:
        return [*self.gateways, *(i for i, w in self.workloads.items() if w.proxy is not None)]

    def admin_ports(self) -> dict[str, int]:
        ports = {i: g.admin_port for i, g in self.gateways.items()}
        ports.update({i: w.admin_port for i, w in self.workloads.items() if w.proxy is not None})
        return ports

    def wait_ready(self, timeout: float | None = None) -> None:
        """Every app accepts connections and every proxy answers /healthz/ready with 200."""
        children = self.children()
        for workload in self.workloads.values():
            port = workload.app_port
            self._wait(
                f"{workload.spec.name}'s app to listen on {LOOPBACK}:{port}",
                functools.partial(is_listening, port),
                children,
                timeout,
            )
        for proxy_id, admin_port in self.admin_ports().items():
            url = f"http://{LOOPBACK}:{admin_port}/healthz/ready"
            self._wait(
                f"proxy {proxy_id} to be ready ({url})", functools.partial(is_ok, url), children, timeout
            )

    def expected_endpoints(self) -> dict[str, set[str]]:
        """Cluster name → the endpoints (`address:port`) it has once every workload is registered."""
        return expected_endpoints(self.spec, self.workloads)

    def convergence_problems(self) -> list[str]:
        """Why the data plane does not (yet) match the spec: proxies whose clusters lack endpoints."""
        return convergence_problems(self.admin_ports(), self.expected_endpoints())

    def wait_converged(self, timeout: float | None = None) -> None:
        """Every proxy knows every workload's endpoint (checked on the proxies themselves)."""
        self._wait(
            "every proxy to have every endpoint",
            lambda: not self.convergence_problems(),
            self.children(),
            timeout,
            explain=lambda: "\n".join(self.convergence_problems()),
        )

    def sync_problems(self, min_revision: int = 0, proxies: Iterable[str] | None = None) -> list[str]:
        """Why `meshctl proxy-status` does not show every proxy SYNCED (at `min_revision` or later)."""
        wanted = list(proxies) if proxies is not None else self.proxy_ids()
        return sync_problems(self.proxy_rows(), wanted, min_revision)

    def wait_synced(
        self, min_revision: int = 0, proxies: Iterable[str] | None = None, timeout: float | None = None
    ) -> None:
        """proxy-status shows the proxies SYNCED, having acknowledged a config of `min_revision` or later."""
        wanted = list(proxies) if proxies is not None else None
        self._wait(
            "the proxies to be SYNCED",
            lambda: not self.sync_problems(min_revision, wanted),
            self.children(),
            timeout,
            explain=lambda: "\n".join(self.sync_problems(min_revision, wanted)),
        )

    def _wait(
        self,
        what: str,
        condition: Callable[[], bool],
        watched: Iterable[Child],
        timeout: float | None = None,
        explain: Callable[[], str] | None = None,
    ) -> None:
        """Poll `condition` until true; LabError when a watched process dies or the time is up."""
        wait_for(
            what,
            condition,
            watched,
            timeout if timeout is not None else self.start_timeout,
            self.logs,
            explain,
        )

    # -- addresses -----------------------------------------------------------------------------------------

    def gateway_url(self, server_port: int | None = None, gateway: str | None = None) -> str:
        """`http://127.0.0.1:<local port>` where the gateway serves its Gateway port `server_port`."""
        if not self.gateways:
            raise LabError("the lab has no gateway")
        chosen = self.gateways[gateway] if gateway else next(iter(self.gateways.values()))
        port = server_port if server_port is not None else next(iter(chosen.ports))
        if port not in chosen.ports:
            raise LabError(f"gateway {chosen.spec.proxy_id} serves no port {port}: {sorted(chosen.ports)}")
        return f"http://{LOOPBACK}:{chosen.ports[port]}"

    def meshctl_flags(self, command: str) -> list[str]:
        """The connection flags meshctl needs for this lab's meshd."""
        ports = self.meshd_ports
        if ports is None:
            raise LabError("meshd has not been started")
        if command == "version":
            return ["--control-plane", f"{LOOPBACK}:{ports.monitoring}"]
        return ["--control-plane", f"{LOOPBACK}:{ports.api}", "--data-dir", str(self.meshd_dir)]

    # -- state and stop ------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        ports = self.meshd_ports
        return {
            "spec": self.spec.name,
            "data_dir": str(self.data_dir),
            "meshd": {"discovery": ports.discovery, "api": ports.api, "monitoring": ports.monitoring}
            if ports
            else None,
            "gateways": {
                i: {"url": f"http://{LOOPBACK}:{next(iter(g.ports.values()))}", "ports": g.ports}
                for i, g in self.gateways.items()
            },
            "workloads": {
                i: {
                    "app_port": w.app_port,
                    "inbound_port": w.inbound_port,
                    "outbound_port": w.outbound_port,
                    "admin_port": w.admin_port,
                    "stats_port": w.stats_port,
                }
                for i, w in self.workloads.items()
            },
            "children": [c.record() for c in self.children()],
            "ports": self.ports(),
            "token_ids": self.token_ids,
            "trust_domain": self.spec.trust_domain,
        }

    def save_state(self) -> None:
        write_state(self.data_dir, self.state())

    def stop(self, timeout: float = STOP_TIMEOUT) -> StopReport:
        report = stop_processes(self.children(), self.ports(), timeout)
        self._revoke_tokens()
        self.state_file.unlink(missing_ok=True)
        return report

    def _revoke_tokens(self) -> None:
        if not self.token_ids:
            return
        revoke_tokens(self.meshd_dir, self.spec.trust_domain, self.token_ids)
        self.token_ids = []


def api_client(meshd_dir: Path, api_port: int) -> ApiClient:
    """A client of the lab's config API, with meshd's admin token and root certificate."""
    try:
        token = (meshd_dir / "admin-token").read_text().strip()
        context = ssl.create_default_context(cafile=str(meshd_dir / "root-cert.pem"))
    except (OSError, ssl.SSLError) as exc:
        raise LabError(f"{meshd_dir}: cannot read meshd's admin token or root certificate: {exc}") from exc
    return ApiClient(LOOPBACK, api_port, token, context)


def _substitute(text: str, values: Mapping[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
