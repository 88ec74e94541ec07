"""The processes the benchmarks measure the mesh against, each one process on one CPU so that its CPU time
is all its own: an nginx upstream serving a small JSON body (and, for the tracing configuration, swallowing
Zipkin spans), an nginx reverse proxy and an haproxy doing a sidecar's job in front of it.

nginx runs with `master_process off` (one process that serves), haproxy with `nbthread 1` in the foreground.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .common import LOAD_CPU, MEASURED_CPU, need, pinned, wait_for_port

#: The body of Bookinfo's details service for one book: 128 bytes of JSON.
BODY = (
    b'{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,'
    b'"publisher":"PublisherA","language":"English"}'
)

_NGINX = """daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx-{name}.pid;
error_log {work}/nginx-{name}.error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log {access_log};
  keepalive_requests 1000000;
  keepalive_timeout 300s;
{body}
}}
"""
_UPSTREAM = """  server {{
    listen 127.0.0.1:{port};
    location /details/ {{ default_type application/json; alias {work}/www/; try_files /details.json =404; }}
    location /api/v2/spans {{ return 202; }}
  }}"""
_NGINX_PROXY = """  upstream up {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}"""
_TLS_UPSTREAM = """  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.3;
    location /details/ {{ default_type application/json; alias {work}/www/; try_files /details.json =404; }}
  }}"""
_NGINX_TLS_PROXY = """  upstream up {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass https://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_session_reuse on; proxy_ssl_protocols TLSv1.3;
    }}
  }}"""
_HAPROXY = """global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend bench
  bind 127.0.0.1:{port}
  default_backend upstream
backend upstream
  server upstream 127.0.0.1:{upstream}
"""


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def nginx_config(work: Path, name: str, body: str, access_log: str = "off") -> str:
    return _NGINX.format(work=work, name=name, body=body, access_log=access_log)


def start_nginx(work: Path, name: str, body: str, port: int, cpu: int, access_log: str = "off") -> Server:
    need("nginx")
    config = work / f"nginx-{name}.conf"
    config.write_text(nginx_config(work, name, body, access_log))
    log = (work / f"nginx-{name}.out").open("wb")
    process = subprocess.Popen(pinned(cpu, ["nginx", "-c", str(config)]), stdout=log, stderr=log)
    wait_for_port(port, process)
    return Server(name, port, process)


def start_upstream(work: Path, port: int) -> Server:
    """The upstream every path ends at, on the load generator's CPU (it is not what is measured)."""
    (work / "www").mkdir(parents=True, exist_ok=True)
    (work / "www" / "details.json").write_bytes(BODY)
    return start_nginx(work, "upstream", _UPSTREAM.format(port=port, work=work), port, LOAD_CPU)


def start_nginx_proxy(work: Path, port: int, upstream: int, access_log: bool = False) -> Server:
    body = _NGINX_PROXY.format(port=port, upstream=upstream)
    log = str(work / "nginx-proxy.access.log") if access_log else "off"
    return start_nginx(work, "proxy", body, port, MEASURED_CPU, access_log=log)


def self_signed(work: Path) -> tuple[Path, Path]:
    """A certificate and key (ECDSA P-256, as the mesh's workload certificates) for the TLS upstream."""
    need("openssl")
    cert, key = work / "upstream-cert.pem", work / "upstream-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=upstream",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def start_tls_upstream(work: Path, port: int) -> Server:
    """The upstream over TLS (on the load generator's CPU), for nginx's TLS baseline."""
    (work / "www").mkdir(parents=True, exist_ok=True)
    (work / "www" / "details.json").write_bytes(BODY)
    cert, key = self_signed(work)
    body = _TLS_UPSTREAM.format(port=port, work=work, cert=cert, key=key)
    return start_nginx(work, "tls-upstream", body, port, LOAD_CPU)


def start_nginx_tls_proxy(work: Path, port: int, upstream: int, access_log: bool = False) -> Server:
    """nginx proxying to the TLS upstream over kept-alive TLS connections: the baseline of the mTLS hop."""
    body = _NGINX_TLS_PROXY.format(port=port, upstream=upstream)
    log = str(work / "nginx-tls-proxy.access.log") if access_log else "off"
    return start_nginx(work, "tls-proxy", body, port, MEASURED_CPU, access_log=log)


def haproxy_config(port: int, upstream: int) -> str:
    return _HAPROXY.format(port=port, upstream=upstream)


def start_haproxy(work: Path, port: int, upstream: int) -> Server:
    need("haproxy")
    config = work / "haproxy.cfg"
    config.write_text(haproxy_config(port, upstream))
    log = (work / "haproxy.out").open("wb")
    process = subprocess.Popen(
        pinned(MEASURED_CPU, ["haproxy", "-db", "-f", str(config)]), stdout=log, stderr=log
    )
    wait_for_port(port, process)
    return Server("haproxy", port, process)
