"""`mesh-lab up|status|down` as real processes, on a small lab read from a YAML spec.

The lab: ratings with a sidecar, details without one (registered as a WorkloadEntry by the launcher), and an
ingress gateway routing /ratings and /details to them. `up` returns with everything running in the
background; `down`, from another process, leaves no process and no port behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from mesh_runtime.launcher.ports import is_free
from mesh_runtime.launcher.processes import Child

SPEC = """\
name: small
namespaces:
- name: default
  labels: {istio-injection: enabled}
- name: istio-system
services:
- name: ratings
  labels: {app: ratings}
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
- name: details
  labels: {app: details}
  selector: {app: details}
  ports: [{name: http, port: 9080}]
workloads:
- name: ratings-v1
  serviceAccount: bookinfo-ratings
  labels: {app: ratings, version: v1}
  command: ["{python}", "-m", "bookinfo", "ratings", "--port", "{app_port}"]
- name: details-v1
  serviceAccount: bookinfo-details
  labels: {app: details, version: v1}
  command: ["{python}", "-m", "bookinfo", "details", "--port", "{app_port}"]
  sidecar: false
gateways:
- name: istio-ingressgateway
  serviceAccount: istio-ingressgateway-service-account
  labels: {istio: ingressgateway}
  ports: [{name: http2, port: 8080}]
resources:
- apiVersion: networking.istio.io/v1
  kind: Gateway
  metadata: {name: small-gateway, namespace: default}
  spec:
    selector: {istio: ingressgateway}
    servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: small, namespace: default}
  spec:
    hosts: ["*"]
    gateways: [small-gateway]
    http:
    - match: [{uri: {prefix: /ratings}}]
      route: [{destination: {host: ratings, port: {number: 9080}}}]
    - match: [{uri: {prefix: /details}}]
      route: [{destination: {host: details, port: {number: 9080}}}]
"""
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def mesh_lab(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mesh_runtime.launcher", *argv],
        capture_output=True,
        text=True,
        timeout=180,
    )


def get_json(url: str) -> object:
    with DIRECT.open(url, timeout=30) as reply:
        return json.loads(reply.read())


def test_up_status_down(tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SPEC)
    data_dir = tmp_path / "lab"
    up = mesh_lab("up", "--spec", str(spec), "--data-dir", str(data_dir))
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        state = json.loads((data_dir / "lab.json").read_text())
        children = [Child.from_record(record) for record in state["children"]]
        assert len(children) == 5  # meshd, the gateway, ratings' app and sidecar, details' app
        assert all(child.alive() for child in children)
        gateway = state["gateways"]["istio-ingressgateway.istio-system"]["url"]
        assert gateway in up.stdout

        # Through the gateway to a sidecar (mTLS) and to a workload without one (plaintext).
        assert get_json(f"{gateway}/ratings/0") == {"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}
        details = get_json(f"{gateway}/details/0")
        assert isinstance(details, dict) and details["author"] == "William Shakespeare"

        # Prometheus finds each proxy's stats port through meshd (on loopback: every node is this machine).
        ratings = state["workloads"]["ratings-v1.default"]
        assert ratings["stats_port"] not in (0, ratings["admin_port"])
        groups = get_json(f"http://127.0.0.1:{state['meshd']['monitoring']}/v1/sd")
        assert isinstance(groups, list)
        (target,) = [g["targets"] for g in groups if g["labels"].get("proxy") == "ratings-v1.default"]
        assert target == [f"127.0.0.1:{ratings['stats_port']}"]
        with DIRECT.open(f"http://{target[0]}/stats/prometheus", timeout=30) as reply:
            assert b'istio_requests_total{reporter="destination"' in reply.read()

        status = mesh_lab("status", "--data-dir", str(data_dir), "-o", "json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert all(p["running"] for p in report["processes"])
        assert sorted((r["id"], r["state"]) for r in report["proxies"]) == [
            ("istio-ingressgateway.istio-system", "SYNCED"),
            ("ratings-v1.default", "SYNCED"),
        ]

        again = mesh_lab("up", "--spec", str(spec), "--data-dir", str(data_dir))
        assert again.returncode == 1
        assert f"a lab is already running in {data_dir}" in again.stderr
    finally:
        down = mesh_lab("down", "--data-dir", str(data_dir))
    assert down.returncode == 0, down.stdout + down.stderr
    assert "no process of the lab runs and its ports are free" in down.stdout
    assert not any(child.alive() for child in children)
    assert all(is_free(port) for port in state["ports"])
    assert not (data_dir / "lab.json").exists()
    assert (data_dir / "logs" / "meshd.log").exists()  # logs stay for reading
    after = mesh_lab("status", "--data-dir", str(data_dir))
    assert after.returncode == 3 and "no lab runs" in after.stdout


def test_a_spec_mistake_is_reported_and_nothing_starts(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("port: 9080}]\n- name: details", "port: ninety}]\n- name: details", 1))
    result = mesh_lab("up", "--spec", str(spec), "--data-dir", str(tmp_path / "lab"))
    assert result.returncode == 1
    field = "services[0].ports[0].port"
    assert (
        result.stderr == f"mesh-lab: error: {spec}: {field}: expected a port number (1-65535), got 'ninety'\n"
    )
    assert not (tmp_path / "lab").exists()
