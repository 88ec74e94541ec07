"""`meshctl get pods` against a real meshd: WorkloadEntries and a connected sidecar as kubectl shows pods.

The sidecar gets its certificate with a token registered by `meshd token add` while meshd runs.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from pathlib import Path

import yaml

from mesh_runtime.ca import Identity
from mesh_runtime.xds import Node
from mesh_runtime.xds.protocol import Push
from tests.integration.meshd.proxyclient import DiscoveryStream, obtain_certificate
from tests.integration.meshd.running import Meshd, executable

REGISTRY = """\
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-vm, namespace: default, labels: {app: ratings}}
spec: {address: 10.0.0.7, serviceAccount: bookinfo-ratings}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: old, namespace: legacy, labels: {app: old}}
spec: {address: 10.0.0.8}
"""
PRODUCTPAGE = Identity("cluster.local", "default", "bookinfo-productpage")
PRODUCTPAGE_NODE = Node(
    id="productpage-v1.default",
    type="sidecar",
    namespace="default",
    workload="productpage-v1",
    service_account="bookinfo-productpage",
    labels={"app": "productpage", "version": "v1"},
    address="127.0.0.3",
    inbound_port=15106,
    app_ports=(19080,),
    proxy_version="0.1.0",
    node_name="node01",
)
#: How long a disconnected proxy may take to show as not ready (meshd notices the closed stream at once).
DISCONNECT_TIMEOUT = 20.0


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def add_token(meshd: Meshd, tmp_path: Path, identity: str) -> str:
    """A token made here, registered with the running meshd by `meshd token add`."""
    token = secrets.token_urlsafe(32)
    token_file = tmp_path / "controller.token"
    token_file.write_text(token + "\n")
    added = subprocess.run(
        [*executable("meshd"), "token", "add", "--data-dir", str(meshd.data_dir)]
        + ["--token-file", str(token_file), "--identity", identity],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("created ") and token not in added.stdout + added.stderr
    return token


def test_workloads_show_as_pods(meshd: Meshd, tmp_path: Path) -> None:
    assert meshd.meshctl("get", "pods").stderr == "No resources found in default namespace.\n"
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY)
    assert meshd.meshctl("apply", "-f", str(registry)).code == 0

    assert rows(meshd.meshctl("get", "pods").stdout) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["ratings-vm", "1/1", "Running", "0", "<unknown>"],
    ]
    assert rows(meshd.meshctl("get", "po", "-A").stdout) == [
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["default", "ratings-vm", "1/1", "Running", "0", "<unknown>"],
        ["legacy", "old", "1/1", "Running", "0", "<unknown>"],
    ]
    # kubectl's wide columns; a WorkloadEntry has its address, and no node (meshd is not told where it runs).
    wide = meshd.meshctl("get", "pod", "-n", "legacy", "-o", "wide").stdout
    assert re.split(r"\s{2,}", wide.splitlines()[0]) == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    assert rows(wide)[1] == [
        *["old", "1/1", "Running", "0", "<unknown>", "10.0.0.8", "<none>", "<none>", "<none>"]
    ]
    missing = meshd.meshctl("get", "pods", "productpage-v1")
    assert (missing.code, missing.stderr) == (1, 'Error: pods "productpage-v1" not found\n')

    credentials = obtain_certificate(
        meshd.discovery,
        meshd.root_cert,
        add_token(meshd, tmp_path, "default/bookinfo-productpage"),
        PRODUCTPAGE,
        tmp_path / "certs",
    )
    stream = DiscoveryStream(meshd.discovery, meshd.root_cert, credentials)
    try:
        stream.upgrade()
        stream.hello(PRODUCTPAGE_NODE)
        assert isinstance(stream.receive(), Push)

        assert rows(meshd.meshctl("get", "pods").stdout)[1:] == [
            ["productpage-v1", "2/2", "Running", "0", "<unknown>"],
            ["ratings-vm", "1/1", "Running", "0", "<unknown>"],
        ]
        # The sidecar's node is the one its Hello named; its IP the address it registered.
        assert rows(meshd.meshctl("get", "pods", "-A", "-o", "wide").stdout)[1:] == [
            ["default", "productpage-v1", "2/2", "Running", "0", "<unknown>", "127.0.0.3", "node01"]
            + ["<none>", "<none>"],
            ["default", "ratings-vm", "1/1", "Running", "0", "<unknown>", "10.0.0.7", "<none>"]
            + ["<none>", "<none>"],
            ["legacy", "old", "1/1", "Running", "0", "<unknown>", "10.0.0.8", "<none>", "<none>", "<none>"],
        ]
        assert meshd.meshctl("get", "pods", "-A", "-o", "name").stdout == (
            "pod/productpage-v1\npod/ratings-vm\npod/old\n"
        )
        pod = json.loads(meshd.meshctl("get", "pods", "productpage-v1", "-o", "json").stdout)
        assert pod["kind"] == "Pod" and pod["metadata"]["labels"] == {"app": "productpage", "version": "v1"}
        assert [c["name"] for c in pod["spec"]["containers"]] == ["app", "istio-proxy"]
        assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"] == "127.0.0.3"
        assert (pod["spec"]["nodeName"], pod["status"]["hostIP"]) == ("node01", "127.0.0.3")
        listed = yaml.safe_load(meshd.meshctl("get", "pods", "-o", "yaml").stdout)
        assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
        assert [[c["name"] for c in item["spec"]["containers"]] for item in listed["items"]] == [
            ["app", "istio-proxy"],
            ["app"],
        ]
        assert [item["spec"].get("nodeName") for item in listed["items"]] == ["node01", None]
        assert [item["status"].get("hostIP") for item in listed["items"]] == ["127.0.0.3", None]
    finally:
        stream.close()

    deadline = time.monotonic() + DISCONNECT_TIMEOUT
    table = meshd.meshctl("get", "pods", "productpage-v1").stdout
    while "NotReady" not in table and time.monotonic() < deadline:
        time.sleep(0.1)
        table = meshd.meshctl("get", "pods", "productpage-v1").stdout
    assert rows(table)[1] == ["productpage-v1", "1/2", "NotReady", "0", "<unknown>"]


def test_pods_are_read_only(meshd: Meshd, tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: productpage-v1}\nspec: {containers: []}\n")

    applied = meshd.meshctl("apply", "-f", str(pod))
    deleted = meshd.meshctl("delete", "pod", "productpage-v1")

    assert applied.code == 65 and "Pod (core) is not something meshd stores" in applied.stderr
    assert deleted.code == 64 and 'doesn\'t have a resource type "pod"' in deleted.stderr
