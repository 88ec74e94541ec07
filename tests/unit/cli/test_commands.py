"""The pieces of meshctl's meshd commands that need no meshd: kinds, tables, labels, inputs, usage."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mesh_runtime.cli import kinds
from mesh_runtime.cli.apply import read_inputs
from mesh_runtime.cli.label import parse_changes
from mesh_runtime.cli.live import workload_pod
from mesh_runtime.cli.proxy_config import _TABLES
from mesh_runtime.cli.tables import age, render
from mesh_runtime.command.errors import CommandError
from mesh_runtime.discovery.builder import build_proxy_config
from tests.conftest import MeshctlRunner
from tests.unit.discovery.snapshots import bookinfo_sidecars, bookinfo_snapshot


def test_kind_names() -> None:
    assert kinds.resolve("vs").kind == "VirtualService"
    assert kinds.resolve("virtualservices.networking.istio.io").kind == "VirtualService"
    assert kinds.resolve("svc").kind == "Service"
    assert kinds.plural(kinds.resolve("ap")) == "authorizationpolicies.security.istio.io"
    assert kinds.plural(kinds.resolve("ns")) == "namespaces"
    assert kinds.singular(kinds.resolve("se")) == "serviceentry.networking.istio.io"
    with pytest.raises(CommandError, match='doesn\'t have a resource type "deployment"'):
        kinds.resolve("deployment")
    with pytest.raises(CommandError):
        kinds.resolve("vs.security.istio.io")


def test_tables_and_ages() -> None:
    assert (
        render(["NAME", "AGE"], [["reviews", "5s"], ["a", "10m"]])
        == "NAME      AGE\nreviews   5s\na         10m\n"
    )
    now = datetime(2024, 1, 10, tzinfo=UTC)
    stamps = [(now - timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in (5, 150, 7300, 200000)]
    assert [age(stamp, now) for stamp in stamps] == ["5s", "2m", "2h", "2d"]
    assert age("yesterday") == "<unknown>"


def test_label_changes() -> None:
    assert parse_changes(["istio-injection=enabled", "old-", "empty="]) == {
        "istio-injection": "enabled",
        "old": None,
        "empty": "",
    }
    for bad in ("novalue", "=x", "-"):
        with pytest.raises(CommandError):
            parse_changes([bad])


def test_inputs_from_files_directories_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("b")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.json").write_text("a")
    (tmp_path / "notes.txt").write_text("skipped")
    found = read_inputs([str(tmp_path), "-"], io.StringIO("from stdin"))
    assert found == [
        (str(tmp_path / "b.yaml"), "b"),
        (str(tmp_path / "sub" / "a.json"), "a"),
        ("-", "from stdin"),
    ]
    with pytest.raises(CommandError, match="does not exist"):
        read_inputs([str(tmp_path / "nope.yaml")], io.StringIO())


def test_workloads_become_pods_for_the_analyzers() -> None:
    pod = workload_pod(
        {
            "name": "reviews-v1",
            "namespace": "default",
            "labels": {"app": "reviews"},
            "hasSidecar": True,
            "proxyVersion": "0.1.0",
        }
    )
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app", "istio-proxy"]
    bare = workload_pod({"name": "vm", "namespace": "default", "kind": "WorkloadEntry", "hasSidecar": False})
    assert [c["name"] for c in bare["spec"]["containers"]] == ["app"]
    gateway = workload_pod(
        {"name": "istio-ingressgateway", "namespace": "istio-system", "kind": "gateway", "healthy": False}
    )
    assert [c["name"] for c in gateway["spec"]["containers"]] == ["istio-proxy"]
    (proxy,) = gateway["status"]["containerStatuses"]
    assert proxy == {"name": "istio-proxy", "ready": False, "restartCount": 0}
    assert gateway["status"]["conditions"] == [{"type": "Ready", "status": "False"}]


def test_a_pod_has_its_workloads_address_and_node() -> None:
    on_node = workload_pod(
        {
            "name": "reviews-v1",
            "namespace": "default",
            "kind": "sidecar",
            "hasSidecar": True,
            "address": "198.18.0.11",
            "nodeName": "node01",
        }
    )
    assert on_node["spec"]["nodeName"] == "node01"
    status = on_node["status"]
    assert (status["podIP"], status["podIPs"]) == ("198.18.0.11", [{"ip": "198.18.0.11"}])
    assert (status["hostIP"], status["hostIPs"]) == ("198.18.0.11", [{"ip": "198.18.0.11"}])
    # A WorkloadEntry (or an older proxy) does not say where it runs: its address, and no node.
    vm = workload_pod(
        {"name": "vm", "namespace": "default", "kind": "WorkloadEntry", "address": "10.0.0.7", "nodeName": ""}
    )
    assert "nodeName" not in vm["spec"] and "hostIP" not in vm["status"]
    assert vm["status"]["podIP"] == "10.0.0.7"
    nowhere = workload_pod({"name": "vm", "namespace": "default", "kind": "WorkloadEntry"})
    assert not {"podIP", "podIPs", "hostIP", "hostIPs"} & set(nowhere["status"])


def test_proxy_config_tables() -> None:
    config = build_proxy_config(bookinfo_snapshot(), bookinfo_sidecars()[0])
    clusters = _TABLES["cluster"](config).splitlines()
    assert clusters[0].split() == [
        "SERVICE",
        "FQDN",
        "PORT",
        "SUBSET",
        "DIRECTION",
        "TYPE",
        "DESTINATION",
        "RULE",
    ]
    assert ["reviews.default.svc.cluster.local", "9080", "-", "outbound", "EDS", "-"] in [
        r.split() for r in clusters
    ]
    assert ["PassthroughCluster", "-", "-", "outbound", "ORIGINAL_DST", "-"] in [r.split() for r in clusters]
    listeners = _TABLES["listener"](config)
    assert "Cluster: inbound|19080|| (PERMISSIVE)" in listeners and "Routes: by destination port" in listeners
    routes = _TABLES["route"](config)
    assert "reviews.default.svc.cluster.local:9080" in routes and "/*" in routes
    endpoints = _TABLES["endpoint"](config)
    assert "127.0.0.1:15126   HEALTHY" in endpoints


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["apply"], "must specify one of -f"),
        (["apply", "-f", "x.yaml", "-o", "xml"], "--output must be 'json'"),
        (["get", "nodes"], 'doesn\'t have a resource type "nodes"'),
        (["delete", "pod", "productpage-v1"], 'doesn\'t have a resource type "pod"'),
        (["get", "pods", "-o", "xml"], "--output must be one of"),
        (["delete", "vs"], "give KIND and NAME"),
        (["delete", "vs", "x", "-f", "y.yaml"], "either KIND NAME... or -f FILE"),
        (["delete", "vs", "x", "-o", "yaml"], "--output must be 'json'"),
        (["label", "pod", "x", "a=b"], "labels namespaces only"),
        (["label", "ns", "x", "oops"], "invalid label 'oops'"),
        (["proxy-config", "secrets", "p.default"], "unknown section 'secrets'"),
        (["proxy-status", "-o", "yaml"], "--output must be 'json'"),
    ],
)
def test_usage_errors_exit_64(meshctl: MeshctlRunner, argv: list[str], message: str) -> None:
    result = meshctl(*argv)
    assert result.code == 64 and message in result.stderr
