"""The mesh path the latency and mTLS benchmarks measure, as real processes started by the launcher (meshd,
two workloads each with its sidecar): a client's sidecar routes to the `server` service over mutual TLS to
the server's sidecar, which hands the request to the server's app (bench/app.py).

    client → client sidecar (outbound) → mTLS → server sidecar (inbound) → server app
    client → server app                                                   (the direct path)
    client → ingress gateway → upstream (nginx, outside the mesh)          (with `upstream_port`)

Both sidecars are pinned to the measured CPU, the apps and meshd to the load generator's; the client is the
benchmark process itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mesh_runtime.launcher import (
    GatewaySpec,
    Lab,
    LabSpec,
    NamespaceSpec,
    PortSpec,
    ServiceSpec,
    WorkloadSpec,
)

from .common import LOAD_CPU, MEASURED_CPU, ROOT

NAMESPACE = "bench"
SERVICE_PORT = 8000
SERVER_HOST = f"server.{NAMESPACE}.svc.cluster.local:{SERVICE_PORT}"
GATEWAY_PORT = 80
PATH = "/details/0"


@dataclass(frozen=True)
class Chain:
    lab: Lab
    #: The client sidecar's outbound port (send `Host: SERVER_HOST`), the server app's own port.
    outbound_port: int
    app_port: int
    client_sidecar: int
    server_sidecar: int
    #: With an upstream: the ingress gateway's local port and process.
    gateway_port: int = 0
    gateway: int = 0


def upstream_documents(port: int) -> tuple[dict[str, Any], ...]:
    """A Service `upstream` whose one endpoint is the benchmark's nginx (a WorkloadEntry: no sidecar), and an
    ingress Gateway with a VirtualService sending every request to it."""
    labels = {"app": "upstream"}
    return (
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "upstream", "namespace": NAMESPACE},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": SERVICE_PORT}]},
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "WorkloadEntry",
            "metadata": {"name": "upstream", "namespace": NAMESPACE},
            "spec": {"address": "127.0.0.1", "labels": labels, "ports": {"http": port}},
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "bench", "namespace": NAMESPACE},
            "spec": {
                "selector": {"istio": "ingressgateway"},
                "servers": [
                    {"port": {"number": GATEWAY_PORT, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
                ],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "upstream", "namespace": NAMESPACE},
            "spec": {
                "hosts": ["*"],
                "gateways": ["bench"],
                "http": [
                    {"route": [{"destination": {"host": "upstream", "port": {"number": SERVICE_PORT}}}]}
                ],
            },
        },
    )


def chain_spec(
    zipkin_address: str = "", trace_sampling: float | None = None, upstream_port: int = 0
) -> LabSpec:
    app = ("{python}", "-m", "bench.app", "{app_port}")
    env = MappingProxyType({"PYTHONPATH": str(ROOT)})
    gateways: tuple[GatewaySpec, ...] = ()
    if upstream_port:
        gateways = (
            GatewaySpec(
                "istio-ingressgateway",
                NAMESPACE,
                "istio-ingressgateway",
                MappingProxyType({"istio": "ingressgateway"}),
                (PortSpec("http", GATEWAY_PORT),),
            ),
        )
    return LabSpec(
        name="bench-chain",
        namespaces=(NamespaceSpec(NAMESPACE, MappingProxyType({"istio-injection": "enabled"})),),
        services=(
            ServiceSpec(
                "server", NAMESPACE, (PortSpec("http", SERVICE_PORT),), MappingProxyType({"app": "server"})
            ),
        ),
        workloads=(
            WorkloadSpec("client-v1", NAMESPACE, "client", MappingProxyType({"app": "client"}), app, env=env),
            WorkloadSpec("server-v1", NAMESPACE, "server", MappingProxyType({"app": "server"}), app, env=env),
        ),
        gateways=gateways,
        resources=upstream_documents(upstream_port) if upstream_port else (),
        zipkin_address=zipkin_address,
        trace_sampling=trace_sampling,
    )


def pin(pid: int, cpu: int) -> None:
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(pid, {cpu})


@contextmanager
def mesh_chain(
    work: Path,
    *,
    zipkin_address: str = "",
    trace_sampling: float | None = None,
    access_log: bool = False,
    upstream_port: int = 0,
) -> Iterator[Chain]:
    lab = Lab(
        chain_spec(zipkin_address, trace_sampling, upstream_port),
        work / "lab",
        log_level="warning",
        proxy_flags=("--access-log=-",) if access_log else (),
    )
    lab.start()
    try:
        client = lab.workloads[f"client-v1.{NAMESPACE}"]
        server = lab.workloads[f"server-v1.{NAMESPACE}"]
        assert client.proxy is not None and server.proxy is not None
        for child in lab.children():
            pin(child.pid, LOAD_CPU)
        pin(client.proxy.pid, MEASURED_CPU)
        pin(server.proxy.pid, MEASURED_CPU)
        gateway_port = gateway_pid = 0
        if lab.gateways:
            (gateway,) = lab.gateways.values()
            gateway_port, gateway_pid = gateway.ports[GATEWAY_PORT], gateway.proxy.pid
            pin(gateway_pid, MEASURED_CPU)
        yield Chain(
            lab,
            client.outbound_port,
            server.app_port,
            client.proxy.pid,
            server.proxy.pid,
            gateway_port,
            gateway_pid,
        )
    finally:
        lab.stop()
