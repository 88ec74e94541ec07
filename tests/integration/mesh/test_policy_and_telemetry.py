"""Issue 4's security-policy and telemetry "Done when", on the whole Bookinfo mesh as real processes: an
AuthorizationPolicy enforced by reviews' sidecars, the reporter=source series productpage's sidecar counts,
and one page's trace, sent by every proxy to a Zipkin collector the test runs (one lab for the module: the
conftest.py lab with meshd pointing the proxies at that collector, sampling 100 %).

Waits are bounded polls on what the mesh reports; nothing here asserts how long anything takes. A test that
changes the config takes it back before it ends.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mesh_runtime.launcher import Lab
from tests.integration.mesh.conftest import lab_spec
from tests.integration.mesh.running import DIRECT, Mesh, poll

PAGES = 100
REVIEWS_VIEWER = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-viewer
  namespace: default
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]
    to:
    - operation:
        methods: ["GET"]
"""


class Collector:
    """A tiny Zipkin collector on loopback: POST /api/v2/spans, spans kept in memory."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                accepted = self.path == "/api/v2/spans"
                if accepted:
                    with collector.lock:
                        collector.spans.extend(json.loads(body))
                self.send_response(202 if accepted else 404)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def traces(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            spans = list(self.spans)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for span in spans:
            grouped.setdefault(span["traceId"], []).append(span)
        return grouped

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def zipkin() -> Iterator[Collector]:
    collector = Collector()
    try:
        yield collector
    finally:
        collector.close()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, networking: Path, zipkin: Collector) -> Iterator[Mesh]:
    """conftest's lab, with meshd pointing every proxy at the collector and tracing every request."""
    spec = dataclasses.replace(lab_spec(), zipkin_address=zipkin.address, trace_sampling=100.0)
    lab = Lab(spec, tmp_path_factory.mktemp("lab"))
    lab.start()
    children = lab.children()
    try:
        mesh = Mesh(lab)
        mesh.apply(networking / "bookinfo-gateway.yaml")
        mesh.wait_for_page()
        yield mesh
    finally:
        report = lab.stop()
    assert report.clean, report
    assert not [c.name for c in children if c.alive()]
    for child in children:
        log = child.log_path.read_text(errors="replace")
        assert "Traceback" not in log, f"{child.name}:\n{log}"


def reviews_sidecars(mesh: Mesh) -> list[str]:
    return [proxy_id for proxy_id in mesh.sidecars() if proxy_id.startswith("reviews-")]


@pytest.fixture
def reviews_viewer(mesh: Mesh, networking: Path) -> Iterator[None]:
    """Istio's mTLS DestinationRules, then a policy admitting only productpage's GETs to reviews."""
    mesh.apply(networking / "destination-rule-all-mtls.yaml")
    mesh.wait_synced()
    applied = mesh.meshctl("apply", "-f", "-", stdin=REVIEWS_VIEWER)
    assert applied.code == 0, applied
    mesh.wait_synced(reviews_sidecars(mesh))  # the policy selects reviews: only their config changes
    try:
        yield
    finally:
        deleted = mesh.meshctl("delete", "authorizationpolicy", "reviews-viewer", "-n", "default")
        assert deleted.code == 0, deleted
        mesh.wait_synced(reviews_sidecars(mesh))
        mesh.delete(networking / "destination-rule-all-mtls.yaml")
        mesh.wait_synced()


def prometheus(mesh: Mesh, proxy_id: str) -> str:
    """The proxy's metrics as Prometheus scrapes them: the target and path meshd's service discovery names
    (the proxy's stats port, which the launcher gives every proxy; not its admin port)."""
    assert mesh.lab.meshd_ports is not None
    with DIRECT.open(f"http://127.0.0.1:{mesh.lab.meshd_ports.monitoring}/v1/sd", timeout=10) as reply:
        groups = json.loads(reply.read())
    (group,) = [g for g in groups if g["labels"].get("proxy") == proxy_id]
    (target,) = group["targets"]
    assert target != f"127.0.0.1:{mesh.lab.admin_ports()[proxy_id]}"
    with DIRECT.open(f"http://{target}{group['labels']['__metrics_path__']}", timeout=10) as reply:
        return str(reply.read().decode())


def requests_total(text: str) -> list[tuple[dict[str, str], int]]:
    series = []
    for line in text.splitlines():
        if line.startswith("istio_requests_total{"):
            labels, _, value = line.rpartition(" ")
            series.append((dict(re.findall(r'(\w+)="([^"]*)"', labels)), int(value)))
    return series


# ---------------------------------------------------------------------------------------------------------


def test_only_productpage_may_get_reviews(mesh: Mesh, reviews_viewer: None) -> None:
    page = mesh.page()
    assert page.ok() and page.has_reviews, page.body[:2000]
    status, body = mesh.outbound_get("details-v1.default", "http://reviews:9080/reviews/0")
    assert (status, body) == (403, b"RBAC: access denied")
    # productpage's own sidecar, same request: admitted.
    status, body = mesh.outbound_get("productpage-v1.default", "http://reviews:9080/reviews/0")
    assert status == 200, body
    # The denial was counted by the reviews sidecar that refused it, with Envoy's flag.
    denied = [
        (labels, count)
        for proxy_id in reviews_sidecars(mesh)
        for labels, count in requests_total(prometheus(mesh, proxy_id))
        if labels["response_code"] == "403"
    ]
    assert sum(count for _, count in denied) == 1, denied
    labels = denied[0][0]
    assert labels["reporter"] == "destination"
    assert labels["source_workload"] == "details-v1"
    assert labels["source_principal"] == "spiffe://cluster.local/ns/default/sa/bookinfo-details"
    assert labels["connection_security_policy"] == "mutual_tls"


def test_productpage_sidecar_reports_source_series_to_details_and_reviews(mesh: Mesh) -> None:
    def outbound_counts() -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for labels, count in requests_total(prometheus(mesh, "productpage-v1.default")):
            if labels["reporter"] == "source" and labels["response_code"] == "200":
                key = (labels["destination_workload"], labels["destination_service_name"])
                counts[key] = counts.get(key, 0) + count
        return counts

    before = outbound_counts()
    for _ in range(PAGES):
        assert mesh.page().ok()
    after = outbound_counts()
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    assert delta[("details-v1", "details")] == PAGES, delta
    reviews = {workload: n for (workload, service), n in delta.items() if service == "reviews"}
    assert set(reviews) <= {"reviews-v1", "reviews-v2", "reviews-v3"} and sum(reviews.values()) == PAGES, (
        delta
    )
    series = [
        labels
        for labels, _ in requests_total(prometheus(mesh, "productpage-v1.default"))
        if labels["reporter"] == "source" and labels["destination_workload"] == "details-v1"
    ]
    assert series, series
    assert series[0] | {"response_code": "200"} == series[0]
    expected = {
        "source_workload": "productpage-v1",
        "source_workload_namespace": "default",
        "source_principal": "spiffe://cluster.local/ns/default/sa/bookinfo-productpage",
        "source_app": "productpage",
        "source_version": "v1",
        "source_canonical_service": "productpage",
        "source_canonical_revision": "v1",
        "destination_workload_namespace": "default",
        "destination_principal": "spiffe://cluster.local/ns/default/sa/bookinfo-details",
        "destination_app": "details",
        "destination_version": "v1",
        "destination_service": "details.default.svc.cluster.local",
        "destination_service_namespace": "default",
        "destination_canonical_service": "details",
        "destination_canonical_revision": "v1",
        "request_protocol": "http",
        "response_flags": "-",
        "connection_security_policy": "unknown",
    }
    assert {key: series[0][key] for key in expected} == expected
    # And details' sidecar saw the same requests as reporter=destination, from productpage.
    inbound = [
        count
        for labels, count in requests_total(prometheus(mesh, "details-v1.default"))
        if labels["reporter"] == "destination" and labels["source_workload"] == "productpage-v1"
    ]
    assert sum(inbound) >= PAGES


BOOKINFO_SERVICES = {
    "istio-ingressgateway.istio-system",
    "productpage.default",
    "details.default",
    "reviews.default",
    "ratings.default",
}


def test_a_page_is_one_trace_across_the_gateway_and_every_bookinfo_sidecar(
    mesh: Mesh, zipkin: Collector
) -> None:
    def complete_trace() -> list[dict[str, Any]] | None:
        assert mesh.page().ok()
        for spans in zipkin.traces().values():
            roots = [s for s in spans if "parentId" not in s]
            if {s["localEndpoint"]["serviceName"] for s in spans} == BOOKINFO_SERVICES and roots:
                return spans
        return None

    # reviews-v1 does not call ratings: a page served by v2 or v3 has every service in its trace.
    spans = poll("a trace through all of Bookinfo", complete_trace)
    (root,) = [s for s in spans if "parentId" not in s]
    assert root["localEndpoint"]["serviceName"] == "istio-ingressgateway.istio-system"
    assert root["kind"] == "CLIENT"
    ids = {s["id"] for s in spans}
    assert all(s["parentId"] in ids for s in spans if s is not root)  # one tree
    kinds = {(s["localEndpoint"]["serviceName"], s["kind"]) for s in spans}
    for service in ("productpage.default", "details.default", "reviews.default", "ratings.default"):
        assert (service, "SERVER") in kinds, kinds
    for service in ("productpage.default", "reviews.default"):
        assert (service, "CLIENT") in kinds, kinds
    request_ids = {s["tags"]["guid:x-request-id"] for s in spans}
    assert len(request_ids) == 1, request_ids  # the gateway's x-request-id travels with the trace
