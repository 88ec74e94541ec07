"""The whole mesh (runtime, meshd, gateways, Prometheus, Bookinfo) on one isolated host, by the collection's
own playbooks: tests/integration/isolated_host.py's paths under a temporary directory, and on top of them
every port the gateways, Bookinfo's workloads and Prometheus would take moved to free ones, so a mesh already
running on this machine (on 8080, 15090, 19000…) is never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.isolated_host import (
    REPO_ROOT,
    SNAPSHOT_IGNORED,
    Host,
    Run,
    free_ports,
    run_playbook_file,
    seed_controller,
    stop_supervisord,
    write_inventory,
)
from tests.ports import free_port

PLAYBOOKS = REPO_ROOT / "playbooks"
#: Bookinfo's six workloads take ten ports each from their base.
BOOKINFO_PORTS = 60
PORT_NAMES = (
    "discovery",
    "api",
    "monitoring",
    "ingress_http",
    "ingress_admin",
    "ingress_stats",
    "egress_admin",
    "egress_stats",
    "prometheus",
    "revision_discovery",
    "revision_api",
    "revision_monitoring",
)


def free_port_block(size: int) -> int:
    """The first of `size` consecutive free ports, taken from tests/ports.py (so no other caller in this
    process is given one of them, and none is in the ephemeral range): its ports come in order from one
    offset, so a run of `size` consecutive ones is a block nobody listens on."""
    block: list[int] = []
    for _ in range(size * 50):
        port = free_port()
        block = [*block, port] if block and port == block[-1] + 1 else [port]
        if len(block) == size:
            return block[0]
    raise RuntimeError(f"no {size} consecutive free ports")


@dataclass
class MeshHost:
    host: Host
    inventory: Path
    work: Path
    bookinfo_base: int

    @property
    def ports(self) -> dict[str, int]:
        return self.host.ports

    def run(self, playbook: str, name: str, *options: str, extra_vars: dict[str, Any] | None = None) -> Run:
        """Run playbooks/<playbook> against the host; `name` keeps each run's temporary files apart, and its
        output (in <work>/<name>/output.txt, to read after a failure)."""
        run = run_playbook_file(PLAYBOOKS / playbook, self.work / name, self.inventory, extra_vars, options)
        (self.work / name / "output.txt").write_text(run.output)
        return run


def mesh_variables(host: Host, bookinfo_base: int) -> dict[str, Any]:
    ports = host.ports
    return host.variables() | {
        "meshlab_address": "127.0.0.1",
        "runtime_projects": [str(host.controller / "mesh_runtime"), str(host.controller / "bookinfo")],
        "mesh_gateways": [
            {
                "name": "istio-ingressgateway",
                "mode": "ingress",
                "ports": [{"name": "http2", "port": 80, "targetPort": ports["ingress_http"]}],
                "admin_port": ports["ingress_admin"],
                "stats_port": ports["ingress_stats"],
            },
            {
                "name": "istio-egressgateway",
                "mode": "egress",
                "ports": [{"name": "http2", "port": 80, "targetPort": 8081}],
                "admin_port": ports["egress_admin"],
                "stats_port": ports["egress_stats"],
            },
        ],
        "control_plane_revision_discovery_port": ports["revision_discovery"],
        "control_plane_revision_api_port": ports["revision_api"],
        "control_plane_revision_monitoring_port": ports["revision_monitoring"],
        "bookinfo_port_base": bookinfo_base,
        "addons_prometheus_listen_address": "127.0.0.1",
        "addons_prometheus_port": ports["prometheus"],
        "addons_prometheus_scrape_interval": "1s",
    }


@contextmanager
def mesh_host(controller: Path) -> Iterator[MeshHost]:
    """A host for the whole mesh, nothing installed yet; on leaving, whatever was started is stopped and every
    file under the host's directory removed."""
    base = Path(tempfile.mkdtemp(prefix="ml-", dir="/tmp"))
    host = Host(
        base=base,
        controller=controller,
        ports=dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True)),
    )
    try:
        seed_controller(controller)
        shutil.copytree(
            REPO_ROOT / "samples" / "bookinfo",
            controller / "bookinfo",
            ignore=shutil.ignore_patterns(*SNAPSHOT_IGNORED),
        )
        bookinfo_base = free_port_block(BOOKINFO_PORTS)
        inventory = write_inventory(controller / "inventory.json", mesh_variables(host, bookinfo_base))
        yield MeshHost(host=host, inventory=inventory, work=controller, bookinfo_base=bookinfo_base)
    finally:
        left = stop_supervisord(host)
        shutil.rmtree(base, ignore_errors=True)
    assert left == [], f"processes were left running under {base}: {left}"
