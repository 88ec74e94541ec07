#!/usr/bin/env python3
"""mesh-proxy's CPU cost per request beside nginx's, measured by the shared tool (shared/tools/proxy_cost.py).

Starts the tool's upstream and nginx baseline, a sidecar (`mesh-proxy sidecar --config-file`) whose outbound
listener routes `details` (and any other host, as the tool's client sends Host: 127.0.0.1:<port>) through a
route table, a cluster, the LEAST_REQUEST balancer and a keep-alive pool to the upstream, then runs the tool's
`measure` several times and stops everything it started.

    bench/proxy_cost.py [--runs 3] [--seconds 6] [--connections 32]

Needs nginx, wrk and taskset (Debian: apt-get install -y nginx wrk util-linux). Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MESHLAB_SHARED", ROOT.parent / "shared"))
TOOL = SHARED / "tools" / "proxy_cost.py"
OUTBOUND_PORT, ADMIN_PORT, UPSTREAM_PORT = 19101, 19100, 18080
RATIO = re.compile(r"^ratio \(proxy / nginx, CPU per request\): ([0-9.]+)$", re.MULTILINE)
#: The project's target: CPU per request at most 1.5 times nginx's, routing and metrics on.
TARGET = 1.5


def bench_config() -> dict[str, object]:
    """The sidecar bench/proxy.py measures, on this script's ports."""
    sys.path[:0] = [str(ROOT), str(ROOT / "mesh_runtime" / "src")]
    from bench.proxy import sidecar_config

    return sidecar_config(OUTBOUND_PORT, UPSTREAM_PORT)


def summary(ratios: list[float]) -> str:
    """One line over every run: single runs on a shared machine vary too much to judge a change by one."""
    listed = " ".join(f"{ratio:.2f}" for ratio in ratios)
    within = sum(ratio <= TARGET for ratio in ratios)
    return (
        f"ratios over {len(ratios)} runs: {listed}; median {statistics.median(ratios):.2f}, "
        f"min {min(ratios):.2f}, max {max(ratios):.2f}; {within} of {len(ratios)} at most {TARGET}"
    )


def wait_ready(process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("mesh-proxy exited before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN_PORT}/healthz/ready", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit("mesh-proxy was not ready within 20 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not TOOL.is_file():
        sys.exit(f"{TOOL} not found: set MESHLAB_SHARED to the shared/ folder")
    python = os.environ.get("PYTHON") or str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    work = Path(tempfile.mkdtemp(prefix="mesh-proxy-bench-"))
    config_file = work / "config.json"
    config_file.write_text(json.dumps(bench_config()))
    pin = ["taskset", "-c", "1"] if (os.cpu_count() or 1) >= 2 and shutil.which("taskset") else []
    subprocess.run([sys.executable, str(TOOL), "upstream"], check=True)
    proxy = subprocess.Popen(
        [
            *pin,
            python,
            "-m",
            "mesh_runtime.proxy",
            "sidecar",
            f"--config-file={config_file}",
            f"--admin-port={ADMIN_PORT}",
            f"--data-dir={work}",
            "--log-level=warning",
        ],
    )
    try:
        wait_ready(proxy)
        url = f"http://127.0.0.1:{OUTBOUND_PORT}/details/0"
        ratios: list[float] = []
        for run in range(1, args.runs + 1):
            print(f"-- run {run}/{args.runs}", flush=True)
            measured = subprocess.run(
                [
                    sys.executable,
                    str(TOOL),
                    "measure",
                    f"--pid={proxy.pid}",
                    f"--url={url}",
                    f"--seconds={args.seconds}",
                    f"--connections={args.connections}",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            print(measured.stdout, end="", flush=True)
            found = RATIO.search(measured.stdout)
            if found is None:
                sys.exit(f"the tool printed no ratio:\n{measured.stdout}{measured.stderr}")
            ratios.append(float(found.group(1)))
        print(summary(ratios))
    finally:
        proxy.terminate()
        proxy.wait(15)
        subprocess.run([sys.executable, str(TOOL), "stop"], check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
