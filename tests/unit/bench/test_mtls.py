"""The nginx TLS baseline's configuration and the chain's resources (what the mesh path is made of)."""

from __future__ import annotations

from pathlib import Path

from bench.baselines import _NGINX_TLS_PROXY, haproxy_config, nginx_config
from bench.chain import GATEWAY_PORT, chain_spec, upstream_documents


def test_the_tls_baseline_keeps_its_tls_connections_alive() -> None:
    body = _NGINX_TLS_PROXY.format(port=1, upstream=2)
    assert "proxy_pass https://up" in body and "keepalive 64" in body and "proxy_ssl_session_reuse on" in body
    text = nginx_config(Path("/w"), "tls-proxy", body)
    assert "master_process off;" in text and "access_log off;" in text


def test_haproxy_is_one_thread_with_connection_reuse() -> None:
    text = haproxy_config(10, 20)
    assert "nbthread 1" in text and "http-reuse always" in text
    assert "bind 127.0.0.1:10" in text and "server upstream 127.0.0.1:20" in text


def test_the_gateway_routes_everything_to_the_upstream_outside_the_mesh() -> None:
    kinds = [d["kind"] for d in upstream_documents(18080)]
    assert kinds == ["Service", "WorkloadEntry", "Gateway", "VirtualService"]
    entry = upstream_documents(18080)[1]
    assert entry["spec"]["ports"] == {"http": 18080}
    spec = chain_spec(upstream_port=18080)
    (gateway,) = spec.gateways
    assert [p.port for p in gateway.ports] == [GATEWAY_PORT]
    assert not chain_spec().gateways and not chain_spec().resources
