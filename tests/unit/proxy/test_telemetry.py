"""Istio's standard metrics: labels resolved once per key, counted in plain ints, rendered as Prometheus text;
and the request path's use of them (peer header, reporter, 403 from an AuthorizationPolicy)."""

from __future__ import annotations

import asyncio
import dataclasses
import re

from mesh_runtime import xds
from mesh_runtime.proxy.telemetry import (
    BUCKETS,
    PEER_HEADER,
    IstioMetrics,
    Series,
    decode_peer,
    encode_peer,
    render,
)

from .harness import CLUSTER, NODE, OK_RESPONSE, head_of, make_harness, sidecar_config

GET = b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n"
PRODUCTPAGE_ID = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
REVIEWS_NODE = xds.Node(
    id="reviews-v2.default",
    type="sidecar",
    namespace="default",
    workload="reviews-v2",
    service_account="bookinfo-reviews",
    labels={"app": "reviews", "version": "v2"},
    services=("reviews.default.svc.cluster.local",),
)


def labels_of(line: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', line))


def series_lines(text: str, metric: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(metric + "{")]


def test_envoy_default_buckets() -> None:
    assert BUCKETS[:4] == (0.5, 1, 5, 10) and BUCKETS[-1] == 3600000 and len(BUCKETS) == 19


def test_peer_metadata_round_trips() -> None:
    facts = decode_peer(encode_peer(NODE))
    assert facts == ("productpage-v1", "default", "productpage", "v1", "productpage", "v1", "Kubernetes")
    assert decode_peer(b"garbage") == ("unknown",) * 7


def test_render_is_cumulative_prometheus_text() -> None:
    series = Series('reporter="source"')
    series.add(3.0, 100, 2000)
    series.add(700.0, 100, 20)
    text = render([series])
    assert 'istio_requests_total{reporter="source"} 2' in text
    assert 'istio_request_duration_milliseconds_bucket{reporter="source",le="5"} 1' in text
    assert 'istio_request_duration_milliseconds_bucket{reporter="source",le="500"} 1' in text
    assert 'istio_request_duration_milliseconds_bucket{reporter="source",le="1000"} 2' in text
    assert 'istio_request_duration_milliseconds_bucket{reporter="source",le="+Inf"} 2' in text
    assert 'istio_request_duration_milliseconds_sum{reporter="source"} 703' in text
    assert 'istio_response_bytes_bucket{reporter="source",le="25"} 1' in text
    assert 'istio_request_bytes_count{reporter="source"} 2' in text
    assert "# TYPE istio_request_bytes histogram" in text


def test_one_label_text_per_key() -> None:
    metrics = IstioMetrics(NODE, PRODUCTPAGE_ID)
    first = metrics.outbound(("k", 200, ""), None, None, 200, "")
    assert metrics.outbound(("k", 200, ""), None, None, 500, "UH") is first
    assert labels_of(first.labels)["response_code"] == "200"
    assert labels_of(first.labels)["destination_service_name"] == "unknown"


def _outbound_harness(loop: asyncio.AbstractEventLoop, has_sidecar: bool = True):  # type: ignore[no-untyped-def]
    config = sidecar_config()
    endpoint = xds.Endpoint(
        "10.0.0.1",
        9080,
        labels={"app": "reviews", "version": "v2"},
        identity="spiffe://cluster.local/ns/default/sa/bookinfo-reviews",
        has_sidecar=has_sidecar,
        workload="reviews-v2",
        namespace="default",
    )
    config = dataclasses.replace(config, endpoints=(xds.ClusterLoadAssignment(CLUSTER, (endpoint,)),))
    harness = make_harness(config, loop)
    harness.runtime.metrics.set_identity(PRODUCTPAGE_ID)
    return harness


def test_peer_metadata_goes_to_mesh_peers_only(loop: asyncio.AbstractEventLoop) -> None:
    harness = _outbound_harness(loop, has_sidecar=False)
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    client.data_received(GET)
    _, headers = head_of(upstream.transport.take())
    assert PEER_HEADER not in headers
    upstream.respond(OK_RESPONSE)


def test_client_sidecar_reports_source_series_and_sends_its_peer_metadata(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = _outbound_harness(loop)
    (upstream,) = harness.pool()
    client, _ = harness.connect()
    for _ in range(3):
        client.data_received(GET + b"")
        _, headers = head_of(upstream.transport.take())
        assert headers[PEER_HEADER] == encode_peer(NODE)
        upstream.respond(OK_RESPONSE)
    (line,) = series_lines(render(harness.runtime.metrics.samples()), "istio_requests_total")
    assert line.endswith(" 3")
    assert labels_of(line) == {
        "reporter": "source",
        "source_workload": "productpage-v1",
        "source_workload_namespace": "default",
        "source_principal": PRODUCTPAGE_ID,
        "source_app": "productpage",
        "source_version": "v1",
        "source_canonical_service": "productpage",
        "source_canonical_revision": "v1",
        "source_cluster": "Kubernetes",
        "destination_workload": "reviews-v2",
        "destination_workload_namespace": "default",
        "destination_principal": "spiffe://cluster.local/ns/default/sa/bookinfo-reviews",
        "destination_app": "reviews",
        "destination_version": "v2",
        "destination_service": "reviews.default.svc.cluster.local",
        "destination_service_name": "reviews",
        "destination_service_namespace": "default",
        "destination_canonical_service": "reviews",
        "destination_canonical_revision": "v2",
        "destination_cluster": "Kubernetes",
        "request_protocol": "http",
        "response_code": "200",
        "grpc_response_status": "",
        "response_flags": "-",
        "connection_security_policy": "unknown",
    }
    size = series_lines(render(harness.runtime.metrics.samples()), "istio_response_bytes_sum")
    assert size[0].endswith(f" {3 * len(OK_RESPONSE)}")


def test_no_route_is_counted_with_its_flag(loop: asyncio.AbstractEventLoop) -> None:
    harness = _outbound_harness(loop)
    client, _ = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n")
    (line,) = series_lines(render(harness.runtime.metrics.samples()), "istio_requests_total")
    assert labels_of(line)["response_code"] == "404"
    assert labels_of(line)["response_flags"] == "NR"
    assert labels_of(line)["destination_service"] == "unknown"


def test_metrics_off_by_config(loop: asyncio.AbstractEventLoop) -> None:
    harness = _outbound_harness(loop)
    harness.runtime.metrics_enabled = False
    client, _ = harness.connect()
    client.data_received(b"GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n")
    assert harness.runtime.metrics.samples() == []


def _inbound_harness(loop: asyncio.AbstractEventLoop, policies: tuple[xds.AuthorizationPolicy, ...] = ()):  # type: ignore[no-untyped-def]
    config = xds.ProxyConfig(
        version="1",
        node=REVIEWS_NODE,
        listeners=(xds.Listener("inbound|9080", "inbound", "127.0.0.1", 15006, app_port=9080),),
        authorization=policies,
    )
    harness = make_harness(config, loop)
    harness.runtime.metrics.set_identity("spiffe://cluster.local/ns/default/sa/bookinfo-reviews")
    return harness


def test_server_sidecar_reports_destination_series_from_the_peer_header(
    loop: asyncio.AbstractEventLoop,
) -> None:
    harness = _inbound_harness(loop)
    (upstream,) = harness.pool(name="inbound|9080||")
    client, _ = harness.connect()
    client.peer_identity = PRODUCTPAGE_ID
    client.data_received(
        b"GET /reviews/0 HTTP/1.1\r\nHost: reviews:9080\r\n"
        + PEER_HEADER
        + b": "
        + encode_peer(NODE)
        + b"\r\n\r\n"
    )
    _, headers = head_of(upstream.transport.take())
    assert PEER_HEADER not in headers  # the app never sees it
    upstream.respond(OK_RESPONSE)
    (line,) = series_lines(render(harness.runtime.metrics.samples()), "istio_requests_total")
    labels = labels_of(line)
    assert labels["reporter"] == "destination"
    assert labels["source_workload"] == "productpage-v1"
    assert labels["source_app"] == "productpage"
    assert labels["source_principal"] == PRODUCTPAGE_ID
    assert labels["destination_workload"] == "reviews-v2"
    assert labels["destination_service"] == "reviews.default.svc.cluster.local"
    assert labels["connection_security_policy"] == "mutual_tls"


def test_inbound_policy_denies_with_envoys_403(loop: asyncio.AbstractEventLoop) -> None:
    only_productpage = xds.AuthorizationPolicy(
        "default/reviews-viewer",
        "ALLOW",
        (
            (
                xds.PolicyRule(
                    principals=("cluster.local/ns/default/sa/bookinfo-productpage",), methods=("GET",)
                ),
            ),
        ),
    )
    harness = _inbound_harness(loop, (only_productpage,))
    (upstream,) = harness.pool(name="inbound|9080||")
    client, transport = harness.connect()
    client.peer_identity = "spiffe://cluster.local/ns/default/sa/bookinfo-details"
    client.data_received(GET)
    reply = transport.take()
    assert reply.startswith(b"HTTP/1.1 403 ")
    assert reply.endswith(b"RBAC: access denied")
    assert upstream.transport.take() == b""
    assert harness.runtime.stats.downstream_rq_by_flags == {"RBAC": 1}
    client.peer_identity = PRODUCTPAGE_ID
    client.data_received(GET)
    assert upstream.transport.take().startswith(b"GET /reviews/0")
    stats = dict(harness.runtime.stats.lines([]))
    assert (stats["http.rbac.allowed"], stats["http.rbac.denied"]) == (1, 1)


def test_gateway_enforces_policies_and_reports_as_source(loop: asyncio.AbstractEventLoop) -> None:
    deny_admin = xds.AuthorizationPolicy(
        "istio-system/deny-admin", "DENY", ((xds.PolicyRule(paths=("/admin*",)),),)
    )
    gateway = xds.Node(
        "istio-ingressgateway.istio-system",
        "gateway",
        "istio-system",
        "istio-ingressgateway",
        "istio-ingressgateway-service-account",
        {"app": "istio-ingressgateway", "istio": "ingressgateway"},
    )
    config = dataclasses.replace(
        sidecar_config(domains=("*",)),
        node=gateway,
        listeners=(xds.Listener("gateway", "gateway", "127.0.0.1", 8080, route_config="9080"),),
        authorization=(deny_admin,),
        # a mesh peer (with a sidecar), so the gateway tells it who is calling
        endpoints=(xds.ClusterLoadAssignment(CLUSTER, (xds.Endpoint("10.0.0.1", 9080),)),),
    )
    harness = make_harness(config, loop)
    (upstream,) = harness.pool()
    client, transport = harness.connect()
    client.data_received(b"GET /admin/x HTTP/1.1\r\nHost: bookinfo\r\n\r\n")
    assert transport.take().endswith(b"RBAC: access denied")
    client.data_received(b"GET /productpage HTTP/1.1\r\nHost: bookinfo\r\n\r\n")
    _, headers = head_of(upstream.transport.take())
    assert decode_peer(headers[PEER_HEADER])[:2] == ("istio-ingressgateway", "istio-system")
    upstream.respond(OK_RESPONSE)
    codes = {
        labels_of(line)["response_code"]: labels_of(line)
        for line in series_lines(render(harness.runtime.metrics.samples()), "istio_requests_total")
    }
    assert set(codes) == {"403", "200"}
    assert codes["200"]["reporter"] == "source"
    assert codes["200"]["source_workload"] == "istio-ingressgateway"
    assert codes["403"]["response_flags"] == "RBAC"
