"""`meshctl version`: client, control-plane and data-plane versions, in istioctl's formats."""

from __future__ import annotations

import argparse
import json
import platform
from collections import Counter
from typing import IO, Any

import yaml

from .. import __version__
from ..command.errors import EXIT_USAGE, CommandError
from ..command.flags import add_boolean
from .controlplane import ControlPlaneUnavailable, address, get_json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "version",
        help="Print the client, control plane and data plane versions",
        description="Print the version of meshctl and, when a control plane answers, of meshd and proxies.",
        epilog="examples:\n  meshctl version\n  meshctl version -o json\n  meshctl version --remote=false\n"
        "  meshctl version -r canary",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_boolean(parser, "-s", "--short", default=True, help="print versions only (default true)")
    parser.add_argument(
        "-o", "--output", default="", help="output format: json or yaml (default: lines of text)"
    )
    add_boolean(parser, "--remote", default=True, help="ask the control plane too (default true)")
    parser.add_argument(
        "-r",
        "--revision",
        default="",
        help="only the control plane of this revision and its proxies (default: every revision)",
    )
    parser.add_argument(
        "--control-plane",
        default=None,
        metavar="HOST[:PORT]",
        help="meshd's address (default $MESHCTL_CONTROL_PLANE or 127.0.0.1; monitoring port 15014)",
    )
    parser.set_defaults(handler=run)


def client_info() -> dict[str, str]:
    return {
        "version": __version__,
        "revision": "meshlab",
        "python_version": platform.python_version(),
        "status": "Clean",
        "tag": __version__,
    }


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    output = str(args.output).lower()
    if output not in ("", "json", "yaml"):
        raise CommandError("--output must be 'yaml' or 'json'", EXIT_USAGE)
    report: dict[str, Any] = {"clientVersion": client_info()}
    if args.remote:
        try:
            server = get_json(address(args.control_plane), "/version")
        except ControlPlaneUnavailable as exc:
            stderr.write(f"control plane is not present: {exc}\n")
        else:
            report.update(_of_revision(server, args.revision))
    if output == "json":
        stdout.write(json.dumps(report, indent=2) + "\n")
    elif output == "yaml":
        stdout.write(yaml.safe_dump(report, sort_keys=True, default_flow_style=False) + "\n")
    else:
        stdout.write(_text(report, short=args.short))
    return 0


def _of_revision(server: dict[str, Any], revision: str) -> dict[str, Any]:
    """meshVersion and dataPlaneVersion as meshd gave them, or only `revision`'s."""
    mesh = server.get("meshVersion", [])
    proxies = server.get("dataPlaneVersion")
    if revision:
        known = sorted({m.get("Revision", "default") for m in mesh})
        mesh = [m for m in mesh if m.get("Revision", "default") == revision]
        if not mesh:
            raise CommandError(
                f"no control plane of revision {revision!r} runs; the revisions are: {', '.join(known)}"
            )
        if proxies is not None:
            proxies = [p for p in proxies if p.get("Revision", "default") == revision]
    return {"meshVersion": mesh} | ({"dataPlaneVersion": proxies} if proxies is not None else {})


def _text(report: dict[str, Any], short: bool) -> str:
    client = report["clientVersion"]
    lines = [f"client version: {client['version'] if short else client}"]
    mesh = report.get("meshVersion")
    if mesh is not None:
        if len(mesh) == 1:
            lines.append(f"control plane version: {mesh[0]['Info']['version']}")
        else:
            lines += [
                f"control plane version: {m['Info']['version']} (revision {m.get('Revision', 'default')})"
                for m in mesh
            ]
    proxies = report.get("dataPlaneVersion")
    if proxies is not None:
        counts = Counter(p["IstioVersion"] for p in proxies)
        rendered = ", ".join(f"{v} ({counts[v]} proxies)" for v in sorted(counts)) or "none"
        lines.append(f"data plane version: {rendered}")
    return "\n".join(lines) + "\n"
