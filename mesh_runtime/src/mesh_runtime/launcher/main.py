"""`mesh-lab up|status|down`: the whole mesh on this machine, from a lab spec, as background processes.

    mesh-lab up --spec bookinfo [--data-dir D]   start meshd, the workloads and their sidecars, the gateways
    mesh-lab status [--data-dir D] [-o json]     what runs, and each proxy's sync state
    mesh-lab down [--data-dir D]                 stop it all (SIGTERM, then SIGKILL); no process or port left

The data directory defaults to $MESH_LAB_DIR, else $XDG_STATE_HOME/mesh-lab (~/.local/state/mesh-lab).
`status` exits 0 when every process runs, 1 when one has stopped, 3 when no lab runs in the directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from ..command.errors import CommandError
from .bookinfo import bookinfo_spec
from .lab import START_TIMEOUT, Lab, api_client
from .model import LabError, StopReport
from .spec import LabSpec, SpecError, load_spec
from .state import read_state, state_children, stop_recorded

ENV_DATA_DIR = "MESH_LAB_DIR"
BUILT_IN_SPECS = {"bookinfo": bookinfo_spec}
EXIT_ERROR = 1
EXIT_NO_LAB = 3


def default_data_dir() -> Path:
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR])
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "mesh-lab"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mesh-lab",
        description="Run the whole mesh on this machine from a lab spec.",
        epilog=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    up = commands.add_parser("up", help="start the lab and wait until it serves")
    up.add_argument(
        "--spec",
        default="bookinfo",
        help=f"a built-in spec ({', '.join(BUILT_IN_SPECS)}) or a lab spec YAML file (default bookinfo)",
    )
    up.add_argument("--timeout", type=float, default=START_TIMEOUT, help="seconds to wait for each step")
    up.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    status = commands.add_parser("status", help="show what runs and each proxy's sync state")
    status.add_argument("-o", "--output", choices=("text", "json"), default="text")
    down = commands.add_parser("down", help="stop every process of the lab")
    for command in (up, status, down):
        command.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help=f"the lab's directory (default ${ENV_DATA_DIR} or $XDG_STATE_HOME/mesh-lab)",
        )
    return parser


def resolve_spec(name: str) -> LabSpec:
    factory = BUILT_IN_SPECS.get(name)
    if factory is not None:
        return factory()
    path = Path(name)
    if not path.exists():
        raise SpecError(
            f"--spec: {name!r} is neither a built-in spec ({', '.join(BUILT_IN_SPECS)}) nor a file"
        )
    return load_spec(path)


def run_up(args: argparse.Namespace, stdout: IO[str]) -> int:
    lab = Lab(resolve_spec(args.spec), args.data_dir, log_level=args.log_level, start_timeout=args.timeout)
    lab.start()
    ports = lab.meshd_ports
    assert ports is not None
    stdout.write(f"mesh-lab: {lab.spec.name} is up in {lab.data_dir}\n")
    for gateway_id, gateway in lab.gateways.items():
        for server_port, local_port in gateway.ports.items():
            stdout.write(f"  gateway {gateway_id} port {server_port}: http://127.0.0.1:{local_port}\n")
    stdout.write(
        f"  meshd: discovery 127.0.0.1:{ports.discovery}, config API 127.0.0.1:{ports.api}, "
        f"monitoring 127.0.0.1:{ports.monitoring}\n"
        f"  logs: {lab.logs}\n"
        "  meshctl against it:\n"
        f"    export MESHCTL_CONTROL_PLANE=127.0.0.1:{ports.api} MESHD_DATA_DIR={lab.meshd_dir}\n"
        f"    meshctl version --control-plane 127.0.0.1:{ports.monitoring}\n"
        f"  stop it: mesh-lab down --data-dir {lab.data_dir}\n"
    )
    return 0


def run_status(args: argparse.Namespace, stdout: IO[str]) -> int:
    state = read_state(args.data_dir)
    if state is None:
        stdout.write(f"no lab runs in {args.data_dir}\n")
        return EXIT_NO_LAB
    processes: list[dict[str, Any]] = [
        {"name": c.name, "pid": c.pid, "running": c.alive(), "log": str(c.log_path)}
        for c in state_children(state)
    ]
    proxies = _proxy_rows(args.data_dir, state)
    gateways: dict[str, Any] = state.get("gateways", {})
    report = {
        "spec": state.get("spec"),
        "gateways": gateways,
        "processes": processes,
        "proxies": proxies,
    }
    if args.output == "json":
        stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        stdout.write(f"lab {state.get('spec')} in {args.data_dir}\n")
        for gateway_id, gateway in gateways.items():
            stdout.write(f"  gateway {gateway_id}: {gateway.get('url')}\n")
        width = max((len(p["name"]) for p in processes), default=4)
        for process in processes:
            running = "running" if process["running"] else "STOPPED"
            stdout.write(f"  {process['name']:<{width}}  pid {process['pid']:<7} {running}\n")
        if isinstance(proxies, str):
            stdout.write(f"  proxies: {proxies}\n")
        else:
            for row in proxies:
                stdout.write(f"  proxy {row['id']}: {row['state']} (config {row['acked_version'] or '-'})\n")
    return 0 if all(p["running"] for p in processes) else EXIT_ERROR


def _proxy_rows(data_dir: Path, state: dict[str, Any]) -> list[dict[str, Any]] | str:
    """The proxies' sync state from meshd, or why it cannot be had."""
    meshd = state.get("meshd") or {}
    if not meshd.get("api"):
        return "meshd's ports are not recorded"
    try:
        response = api_client(data_dir / "meshd", int(meshd["api"])).request("GET", "/v1/proxies")
    except (CommandError, LabError) as exc:
        return str(exc)
    if not response.ok:
        return response.error
    rows: list[dict[str, Any]] = response.body.get("items", [])
    return rows


def run_down(args: argparse.Namespace, stdout: IO[str]) -> int:
    report = stop_recorded(args.data_dir)
    if report is None:
        stdout.write(f"no lab runs in {args.data_dir}: nothing to stop\n")
        return 0
    return _report_stop(report, stdout)


def _report_stop(report: StopReport, stdout: IO[str]) -> int:
    if report.killed:
        stdout.write(f"killed after the SIGTERM timeout: {', '.join(report.killed)}\n")
    if report.clean:
        stdout.write("mesh-lab: stopped; no process of the lab runs and its ports are free\n")
        return 0
    if report.alive:
        stdout.write(f"still running: {', '.join(report.alive)}\n")
    if report.busy_ports:
        stdout.write(f"ports still taken: {', '.join(map(str, report.busy_ports))}\n")
    return EXIT_ERROR


def run(
    argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    args.data_dir = (args.data_dir or default_data_dir()).expanduser().absolute()
    handlers = {"up": run_up, "status": run_status, "down": run_down}
    try:
        return handlers[args.command](args, stdout)
    except (LabError, SpecError) as exc:
        stderr.write(f"mesh-lab: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        stderr.write("mesh-lab: interrupted; what had started was stopped\n")
        return 130


def main() -> None:
    sys.exit(run())
