"""meshd as a real process: config API through the real meshctl, restarts, CA and discovery over real TLS."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from mesh_runtime.ca import Identity
from mesh_runtime.xds import Node
from mesh_runtime.xds.protocol import Nack, Push
from tests.integration.meshd.proxyclient import (
    Credentials,
    DiscoveryStream,
    https_request,
    obtain_certificate,
)
from tests.integration.meshd.running import Meshd, executable

BOOKINFO_SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: reviews, labels: {app: reviews}}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: productpage, labels: {app: productpage}}
spec:
  selector: {app: productpage}
  ports: [{name: http, port: 9080}]
"""
PRODUCTPAGE = Identity("cluster.local", "default", "bookinfo-productpage")


def productpage_node(address: str = "127.0.0.1") -> Node:
    return Node(
        id="productpage-v1.default",
        type="sidecar",
        namespace="default",
        workload="productpage-v1",
        service_account="bookinfo-productpage",
        labels={"app": "productpage", "version": "v1"},
        address=address,
        inbound_port=15106,
        app_ports=(19080,),
        outbound_port=15101,
        admin_port=15100,
        proxy_version="0.1.0",
    )


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_apply_get_label_delete_through_meshctl(meshd: Meshd, istio_reference: Path, tmp_path: Path) -> None:
    networking = istio_reference / "bookinfo" / "networking"
    applied = meshd.meshctl(
        "apply",
        "-f",
        write(tmp_path, "svc.yaml", BOOKINFO_SERVICES),
        "-f",
        str(networking / "virtual-service-all-v1.yaml"),
    )
    assert applied.code == 0, applied.stderr
    lines = applied.stdout.splitlines()
    assert lines[:2] == ["service/reviews created", "service/productpage created"]
    assert "virtualservice.networking.istio.io/reviews created" in lines
    again = meshd.meshctl("apply", "-f", str(networking / "virtual-service-all-v1.yaml"))
    assert set(again.stdout.split("\n")[0].split()[1:]) == {"unchanged"}
    changed = meshd.meshctl("apply", "-f", str(networking / "virtual-service-reviews-test-v2.yaml"))
    assert changed.stdout == "virtualservice.networking.istio.io/reviews configured\n"

    table = meshd.meshctl("get", "vs")
    assert table.code == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "GATEWAYS", "HOSTS", "AGE"]
    assert any(row.split()[:3] == ["reviews", "[]", '["reviews"]'] for row in rows)
    document = json.loads(meshd.meshctl("get", "virtualservice", "reviews", "-o", "json").stdout)
    assert document["spec"]["http"][0]["match"][0]["headers"]["end-user"] == {"exact": "jason"}
    assert document["metadata"]["namespace"] == "default" and document["metadata"]["resourceVersion"]
    assert meshd.meshctl("get", "vs", "-n", "other").stderr == "No resources found in other namespace.\n"

    assert (
        meshd.meshctl("label", "namespace", "default", "istio-injection=enabled").stdout
        == "namespace/default labeled\n"
    )
    assert (
        meshd.meshctl("label", "ns", "default", "istio-injection=enabled").stdout
        == "namespace/default not labeled\n"
    )
    conflict = meshd.meshctl("label", "namespace", "default", "istio-injection=disabled")
    assert conflict.code == 1
    assert "'istio-injection' already has a value (enabled), and --overwrite is false" in conflict.stderr
    assert meshd.meshctl("label", "namespace", "default", "istio-injection=disabled", "--overwrite").code == 0
    namespaces = json.loads(meshd.meshctl("get", "namespace", "default", "-o", "json").stdout)
    assert namespaces["metadata"]["labels"] == {"istio-injection": "disabled"}

    deleted = meshd.meshctl("delete", "vs", "reviews")
    assert (deleted.code, deleted.stdout) == (0, 'virtualservice.networking.istio.io "reviews" deleted\n')
    missing = meshd.meshctl("get", "vs", "reviews")
    assert missing.code == 1 and 'virtualservices.networking.istio.io "reviews" not found' in missing.stderr
    gone = meshd.meshctl(
        "delete", "-f", str(networking / "virtual-service-all-v1.yaml"), "--ignore-not-found"
    )
    assert gone.code == 0 and 'virtualservice.networking.istio.io "productpage" deleted' in gone.stdout


def test_delete_dry_run_and_json_report_each_resource(meshd: Meshd, tmp_path: Path) -> None:
    services = write(tmp_path, "svc.yaml", BOOKINFO_SERVICES)
    assert meshd.meshctl("apply", "-f", services).code == 0
    assert meshd.meshctl("delete", "svc", "reviews").code == 0

    dry = meshd.meshctl("delete", "-f", services, "--dry-run", "-o", "json", "--ignore-not-found")
    assert dry.code == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True
    assert [(r["kind"], r["namespace"], r["name"], r["result"]) for r in report["results"]] == [
        ("Service", "default", "reviews", "absent"),
        ("Service", "default", "productpage", "deleted"),
    ]
    assert meshd.meshctl("get", "svc", "productpage").code == 0

    text = meshd.meshctl("delete", "svc", "productpage", "--dry-run")
    assert (text.code, text.stdout) == (0, 'service "productpage" deleted (dry run)\n')
    assert meshd.meshctl("get", "svc", "productpage").code == 0

    real = meshd.meshctl("delete", "-f", services, "-o", "json", "--ignore-not-found")
    assert real.code == 0, real.stderr
    assert [r["result"] for r in json.loads(real.stdout)["results"]] == ["absent", "deleted"]
    assert meshd.meshctl("get", "svc", "productpage").code == 1

    strict = meshd.meshctl("delete", "-f", services, "-o", "json")
    assert strict.code == 1 and 'services "reviews" not found' in strict.stderr
    assert [r["result"] for r in json.loads(strict.stdout)["results"]] == ["absent", "absent"]


def test_an_invalid_multi_document_apply_stores_nothing(meshd: Meshd, tmp_path: Path) -> None:
    assert meshd.meshctl("apply", "-f", write(tmp_path, "svc.yaml", BOOKINFO_SERVICES)).code == 0
    before = meshd.meshctl("get", "svc", "-o", "json").stdout
    bad = write(
        tmp_path,
        "bad.yaml",
        """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fine}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    timeout: soon
---
apiVersion: v1
kind: Service
metadata: {name: ratings}
spec:
  ports: [{port: 99999}]
""",
    )
    result = meshd.meshctl("apply", "-f", bad)
    assert result.code == 65
    assert f"error: {bad}:16: VirtualService default/broken: spec.http[0].timeout:" in result.stderr
    assert f"error: {bad}:22: Service default/ratings: spec.ports[0].port:" in result.stderr
    assert result.stderr.endswith("Error: nothing was applied: 2 problem(s) in the input\n")
    assert meshd.meshctl("get", "vs").stderr == "No resources found in default namespace.\n"
    assert meshd.meshctl("get", "svc", "-o", "json").stdout == before
    dry = meshd.meshctl(
        "apply",
        "--dry-run",
        "-f",
        write(tmp_path, "ok.yaml", BOOKINFO_SERVICES.replace("reviews", "ratings")),
    )
    assert dry.stdout.splitlines()[0] == "service/ratings created (dry run)"
    assert meshd.meshctl("get", "svc", "ratings").code == 1


def test_a_restart_keeps_config_tokens_and_the_ca(tmp_path: Path) -> None:
    first = Meshd(tmp_path / "meshd").start()
    try:
        assert first.meshctl("apply", "-f", write(tmp_path, "svc.yaml", BOOKINFO_SERVICES)).code == 0
        assert first.meshctl("label", "namespace", "default", "istio-injection=enabled").code == 0
        root = first.root_cert.read_text()
        token = first.token("default/bookinfo-productpage")
        assert first.stop() == 0
        assert "meshd stopped" in first.log()
    finally:
        first.kill()
    second = Meshd(tmp_path / "meshd").start()
    try:
        assert second.root_cert.read_text() == root
        names = [row.split()[0] for row in second.meshctl("get", "svc").stdout.splitlines()[1:]]
        assert names == ["productpage", "reviews"]
        assert "istio-injection" in second.meshctl("get", "ns", "default", "-o", "yaml").stdout
        # The token issued before the restart still works, and the new certificate chains to the same root.
        obtain_certificate(second.discovery, second.root_cert, token, PRODUCTPAGE, tmp_path / "certs")
    finally:
        assert second.stop() == 0


def test_a_proxy_gets_its_config_over_mutual_tls_and_is_synced(meshd: Meshd, tmp_path: Path) -> None:
    assert meshd.meshctl("apply", "-f", write(tmp_path, "svc.yaml", BOOKINFO_SERVICES)).code == 0
    token = meshd.token("default/bookinfo-productpage")
    credentials = obtain_certificate(meshd.discovery, meshd.root_cert, token, PRODUCTPAGE, tmp_path / "certs")
    stream = DiscoveryStream(meshd.discovery, meshd.root_cert, credentials)
    try:
        status, head = stream.upgrade()
        assert status == 101 and b"upgrade: meshlab-xds" in head.lower()
        stream.hello(productpage_node())
        first = stream.receive()
        assert isinstance(first, Push) and first.config is not None
        clusters = {c.name for c in first.config.clusters}
        assert "outbound|9080||reviews.default.svc.cluster.local" in clusters
        assert "inbound|19080||" in clusters
        assert meshd.meshctl("proxy-status").stdout.splitlines()[1].split()[2] == "STALE"
        stream.ack(first.version, first.nonce)

        # A config change reaches the proxy after the debounce; it acknowledges it.
        vs = write(
            tmp_path,
            "vs.yaml",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\n"
            "spec: {hosts: [reviews], http: [{timeout: 3s, route: [{destination: {host: reviews}}]}]}\n",
        )
        assert meshd.meshctl("apply", "-f", vs).code == 0
        second = stream.receive()
        assert isinstance(second, Push) and second.config is not None and second.version != first.version
        routes = {v.name: v for rc in second.config.route_configs for v in rc.virtual_hosts}
        assert routes["reviews.default.svc.cluster.local:9080"].routes[0].timeout == 3.0
        stream.ack(second.version, second.nonce)

        status_table = meshd.meshctl("proxy-status")
        header, row = status_table.stdout.splitlines()
        assert header.split() == ["NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"]
        assert row.split()[:6] == [
            "productpage-v1.default",
            "meshlab",
            "SYNCED",
            "SYNCED",
            "SYNCED",
            "SYNCED",
        ]
        rows = json.loads(meshd.meshctl("proxy-status", "-o", "json").stdout)
        assert rows[0]["acked_version"] == second.version and rows[0]["state"] == "SYNCED"

        clusters_table = meshd.meshctl("proxy-config", "cluster", "productpage-v1.default").stdout
        assert ["reviews.default.svc.cluster.local", "9080", "-", "outbound", "EDS", "-"] in [
            line.split() for line in clusters_table.splitlines()
        ]
        routes_json = json.loads(
            meshd.meshctl("proxy-config", "route", "productpage-v1.default", "-o", "json").stdout
        )
        assert routes_json[0]["name"] == "9080"

        version = meshd.meshctl("version")
        assert "data plane version: 0.1.0 (1 proxies)" in version.stdout
        assert meshd.metric("pilot_xds") == 1
        assert meshd.metric("pilot_xds_pushes", 'type="cds"') == 2
        assert meshd.metric("citadel_server_success_cert_issuance_count") == 1
        assert meshd.metric("pilot_proxy_convergence_time_count") >= 1
        targets = json.loads(meshd.monitoring_get("/v1/sd"))
        assert targets[0]["targets"] == ["127.0.0.1:15100"]
        assert targets[0]["labels"]["__metrics_path__"] == "/stats/prometheus"
        assert targets[0]["labels"]["workload"] == "productpage-v1"
        assert targets[-1]["labels"]["job"] == "meshd"

        # A rejected push shows as STALE with its reason.
        slower = write(tmp_path, "vs2.yaml", Path(vs).read_text().replace("3s", "4s"))
        assert meshd.meshctl("apply", "-f", slower).code == 0
        third = stream.receive()
        assert isinstance(third, Push)
        stream.nack(third.version, third.nonce, "cannot compile route reviews")
        rejected = json.loads(meshd.meshctl("proxy-status", "-o", "json").stdout)[0]
        assert (rejected["state"], rejected["last_error"]) == ("STALE", "cannot compile route reviews")
    finally:
        stream.close()


def test_the_workload_registers_and_goes_unhealthy_when_the_proxy_leaves(
    meshd: Meshd, tmp_path: Path
) -> None:
    assert meshd.meshctl("apply", "-f", write(tmp_path, "svc.yaml", BOOKINFO_SERVICES)).code == 0
    token = meshd.token("default/*")
    reviews = Identity("cluster.local", "default", "bookinfo-reviews")
    watcher_credentials = obtain_certificate(
        meshd.discovery, meshd.root_cert, token, PRODUCTPAGE, tmp_path / "a"
    )
    reviews_credentials = obtain_certificate(meshd.discovery, meshd.root_cert, token, reviews, tmp_path / "b")
    watcher = DiscoveryStream(meshd.discovery, meshd.root_cert, watcher_credentials)
    watcher.upgrade()
    watcher.hello(productpage_node())
    first = watcher.receive()
    assert isinstance(first, Push) and first.config is not None
    watcher.ack(first.version, first.nonce)
    reviews_node = Node(
        id="reviews-v1.default",
        type="sidecar",
        namespace="default",
        workload="reviews-v1",
        service_account="bookinfo-reviews",
        labels={"app": "reviews", "version": "v1"},
        inbound_port=15126,
        app_ports=(19082,),
    )
    stream = DiscoveryStream(meshd.discovery, meshd.root_cert, reviews_credentials)
    try:
        stream.upgrade()
        stream.hello(reviews_node)
        assert isinstance(stream.receive(), Push)
        # The productpage proxy is told about the new endpoint: an endpoint-only push.
        update = watcher.receive()
        assert isinstance(update, Push) and update.config is None
        (assignment,) = [
            a for a in update.endpoints if a.cluster == "outbound|9080||reviews.default.svc.cluster.local"
        ]
        (endpoint,) = assignment.endpoints
        assert (endpoint.port, endpoint.healthy, endpoint.has_sidecar) == (15126, True, True)
        assert endpoint.identity == "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
    finally:
        stream.close()
    gone = watcher.receive()
    assert isinstance(gone, Push)
    (assignment,) = [
        a for a in gone.endpoints if a.cluster == "outbound|9080||reviews.default.svc.cluster.local"
    ]
    assert [e.healthy for e in assignment.endpoints] == [False]
    watcher.close()


def test_a_csr_for_an_identity_the_token_does_not_allow_is_refused_and_counted(
    meshd: Meshd, tmp_path: Path
) -> None:
    token = meshd.token("default/bookinfo-productpage")
    reviews = Identity("cluster.local", "default", "bookinfo-reviews")
    with pytest.raises(
        AssertionError, match="does not allow spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
    ):
        obtain_certificate(meshd.discovery, meshd.root_cert, token, reviews, tmp_path / "certs")
    status, body = https_request(
        meshd.discovery, "POST", "/v1/certificates", meshd.root_cert, {"csr": "x", "identity": reviews.uri}
    )
    assert status == 401 and "no bootstrap token" in body["error"]
    assert meshd.metric("citadel_server_authentication_failure_count") == 2
    assert meshd.metric("citadel_server_csr_count") == 2
    assert meshd.metric("citadel_server_success_cert_issuance_count") == 0
    status, body = https_request(meshd.discovery, "GET", "/v1/trust-bundle", meshd.root_cert)
    assert status == 200 and body["roots"] == [meshd.root_cert.read_text()]


def test_discovery_refuses_plaintext_strangers_and_impostors(meshd: Meshd, tmp_path: Path) -> None:
    # Plaintext HTTP to the TLS port gets no HTTP answer.
    with socket.create_connection(meshd.discovery, timeout=10) as plain:
        plain.sendall(
            b"GET /v1/discovery HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: meshlab-xds\r\n\r\n"
        )
        assert b"HTTP/1.1" not in plain.recv(4096)
    # TLS without a client certificate: refused with 401, counted.
    anonymous = DiscoveryStream(meshd.discovery, meshd.root_cert, None)
    status, _ = anonymous.upgrade()
    anonymous.close()
    assert status == 401
    assert meshd.metric("meshd_discovery_streams_refused_total", 'reason="no_client_certificate"') == 1
    # A certificate from another CA does not get through the handshake.
    stranger_dir = tmp_path / "stranger"
    subprocess.run(
        [*executable("meshd"), "init", "--data-dir", str(stranger_dir)], check=True, capture_output=True
    )
    stranger = Meshd(stranger_dir).start()
    try:
        foreign = obtain_certificate(
            stranger.discovery,
            stranger.root_cert,
            stranger.token("default/*"),
            PRODUCTPAGE,
            tmp_path / "foreign",
        )
    finally:
        stranger.stop()
    assert _upgrade_status(meshd, foreign) == 0  # no HTTP answer at all: the handshake failed
    # A valid certificate, but a Hello for another identity: a final Nack, then the stream closes.
    credentials = obtain_certificate(
        meshd.discovery, meshd.root_cert, meshd.token("default/*"), PRODUCTPAGE, tmp_path / "own"
    )
    impostor = DiscoveryStream(meshd.discovery, meshd.root_cert, credentials)
    try:
        assert impostor.upgrade()[0] == 101
        node = productpage_node()
        impostor.hello(
            Node(**{**{f: getattr(node, f) for f in node.__slots__}, "service_account": "bookinfo-reviews"})
        )
        final = impostor.receive()
        assert (
            isinstance(final, Nack)
            and "its certificate is spiffe://cluster.local/ns/default/sa/bookinfo-productpage" in final.error
        )
        assert impostor.closed_by_peer()
    finally:
        impostor.close()
    assert meshd.metric("meshd_discovery_streams_refused_total", 'reason="identity_mismatch"') == 1
    assert json.loads(meshd.meshctl("proxy-status", "-o", "json").stdout) == []


def _upgrade_status(meshd: Meshd, credentials: Credentials) -> int:
    """The status of a discovery upgrade with these credentials; 0 when TLS failed (TLS 1.3 reports a
    refused client certificate on the first read)."""
    try:
        stream = DiscoveryStream(meshd.discovery, meshd.root_cert, credentials)
    except (ssl.SSLError, OSError):
        return 0
    try:
        return stream.upgrade()[0]
    except (ssl.SSLError, OSError):
        return 0
    finally:
        stream.close()


def test_live_analyze_reports_injection_problems(meshd: Meshd, tmp_path: Path) -> None:
    registry = write(
        tmp_path,
        "registry.yaml",
        """apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {istio-injection: enabled}}
---
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
""",
    )
    assert meshd.meshctl("apply", "-f", registry).code == 0
    result = meshd.meshctl("analyze", "-A")
    assert result.code == 0, result.stderr
    assert (
        "Info [IST0102] (Namespace legacy) The namespace is not enabled for Istio injection." in result.stdout
    )
    assert (
        "[IST0103] (Pod default/ratings-vm) The pod default/ratings-vm is missing the Istio proxy."
        in result.stdout
    )
    files_on_top = meshd.meshctl(
        "analyze",
        "-n",
        "default",
        write(
            tmp_path,
            "gw.yaml",
            "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\n"
            "spec: {selector: {istio: nope}, servers: "
            "[{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}\n",
        ),
    )
    assert "IST0101" in files_on_top.stdout and "(Gateway default/gw" in files_on_top.stdout


def test_meshctl_without_a_reachable_or_trusted_meshd(meshd: Meshd, tmp_path: Path) -> None:
    dead = meshd.meshctl("get", "vs", "--control-plane", "127.0.0.1:1")
    assert dead.code == 1 and dead.stderr.startswith(
        "Error: no control plane (meshd) answered at https://127.0.0.1:1"
    )
    wrong_token = meshd.meshctl("get", "vs", "--token", "nope")
    assert wrong_token.code == 1 and "meshd refused the admin token" in wrong_token.stderr
    missing_file = meshd.meshctl("get", "vs", "--ca-file", str(tmp_path / "missing.pem"))
    assert missing_file.code == 1 and "missing.pem: no such file" in missing_file.stderr
    other_root = tmp_path / "other-root.pem"
    stranger_dir = tmp_path / "stranger"
    subprocess.run(
        [*executable("meshd"), "init", "--data-dir", str(stranger_dir)], check=True, capture_output=True
    )
    other_root.write_text((stranger_dir / "root-cert.pem").read_text())
    untrusted = meshd.meshctl("get", "vs", "--ca-file", str(other_root))
    assert untrusted.code == 1 and f"meshd at https://{meshd.api} is not trusted" in untrusted.stderr
    outputs = dead.stderr + wrong_token.stderr + missing_file.stderr + untrusted.stderr
    assert "Traceback" not in outputs


def test_serve_says_which_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = subprocess.run(
            [
                *executable("meshd"),
                "serve",
                "--data-dir",
                str(tmp_path / "meshd"),
                "--listen-address",
                "127.0.0.1",
                "--discovery-port",
                str(port),
                "--api-port",
                "0",
                "--monitoring-port",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert process.returncode == 1
    assert f"meshd: error: cannot listen for the discovery on 127.0.0.1:{port}: " in process.stderr
    assert "Traceback" not in process.stderr
