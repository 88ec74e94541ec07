"""gateway.* analyzers through `meshctl analyze` on small files: exact lines, file:line included."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import MeshctlRunner
from tests.unit.analysis.analyzers.support import Config

PORTS = "gateway.IngressGatewayPortAnalyzer"
CONFLICTS = "gateway.ConflictingGatewayAnalyzer"
SECRETS = "gateway.SecretAnalyzer"
CERTIFICATES = "gateway.CertificateAnalyzer"


def gateway(
    name: str, servers: str, selector: str = "{istio: ingressgateway}", namespace: str = "default"
) -> str:
    return f"""\
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {selector}
  servers:
{textwrap.indent(textwrap.dedent(servers), "  ")}"""


def test_gateway_ports_and_selectors(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        gateway("web", "- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ['*']\n")
        + gateway("odd", "- port: {number: 8080, name: http, protocol: HTTP}\n  hosts: ['*']\n")
        + gateway(
            "orphan",
            "- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ['*']\n",
            selector="\n    app: none  # orphan\n    istio: custom",
        ),
    )
    result = config.analyze(meshctl, PORTS)
    assert result.lines == [
        f"Error [IST0101] (Gateway default/orphan {config.at('# orphan')}) "
        'Referenced selector not found: "app=none,istio=custom"',
        f"Warning [IST0162] (Gateway default/odd {config.path}:{config.line('name: odd') + 2}) "
        "The gateway is listening on a target port (port 8080) that is not defined in the Service associated "
        "with its workload instances (Pod selector istio=ingressgateway). If you need to access the gateway "
        "port through the gateway Service, it will not be available.",
    ]


def test_conflicting_gateways(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        gateway("tcp", "- port: {number: 80, name: tcp, protocol: TCP}\n  hosts: [shop.example.com]\n")
        + gateway("http", "- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [shop.example.com]\n")
        # Plain HTTP servers sharing a host merge: no conflict between `http` and `http-too` (#17560).
        + gateway(
            "http-too", "- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [shop.example.com]\n"
        )
        + gateway(
            "tls-a",
            "- port: {number: 443, name: https, protocol: HTTPS}\n"
            "  hosts: [shop.example.com, blog.example.com]\n"
            "  tls: {mode: SIMPLE, credentialName: shop}\n",
        )
        + gateway(
            "tls-b",
            "- port: {number: 443, name: https, protocol: HTTPS}\n"
            "  hosts: [blog.example.com]\n"
            "  tls: {mode: SIMPLE, credentialName: blog}\n",
        )
        + gateway(
            "tls-bound",
            "- port: {number: 443, name: https, protocol: HTTPS}\n"
            "  hosts: [blog.example.com]\n"
            "  bind: 10.0.0.1\n"
            "  tls: {mode: SIMPLE, credentialName: blog}\n",
        )
        + gateway(
            "other-port", "- port: {number: 8443, name: tcp, protocol: TCP}\n  hosts: [shop.example.com]\n"
        )
        + gateway(
            "other-workload",
            "- port: {number: 80, name: tcp, protocol: TCP}\n  hosts: [shop.example.com]\n",
            selector="{istio: egressgateway}",
        ),
    )
    result = config.analyze(meshctl, CONFLICTS)

    def conflict(name: str, others: str, port: int, hosts: str) -> str:
        return (
            f"Error [IST0145] (Gateway default/{name} {config.start_of(f'{{name: {name}, namespace')}) "
            f"Conflict with gateways {others} (workload selector istio=ingressgateway, port {port}, "
            f"hosts {hosts})."
        )

    assert result.lines == [
        conflict("http", "default/tcp", 80, "shop.example.com"),
        conflict("http-too", "default/tcp", 80, "shop.example.com"),
        conflict("tcp", "default/http,default/http-too", 80, "shop.example.com"),
        conflict("tls-a", "default/tls-b", 443, "shop.example.com,blog.example.com"),
        conflict("tls-b", "default/tls-a", 443, "blog.example.com"),
    ]


def test_gateways_whose_selectors_overlap_on_a_pod(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    server = "- port: {number: 443, name: tls, protocol: TLS}\n  hosts: [db.example.com]\n"
    server += "  tls: {mode: PASSTHROUGH}\n"
    config = Config(
        tmp_path,
        """\
apiVersion: v1
kind: Pod
metadata:
  name: edge
  namespace: edge
  labels: {istio: edge, tier: front}
spec:
  containers: [{name: istio-proxy, image: proxyv2}]
"""
        + gateway("wide", server, selector="{istio: edge}", namespace="edge")
        + gateway("narrow", server, selector="{istio: edge, tier: front}", namespace="edge")
        + gateway("elsewhere", server, selector="{istio: edge, tier: back}", namespace="edge"),
    )
    result = config.analyze(meshctl, CONFLICTS, "-n", "edge")
    assert result.lines == [
        f"Error [IST0145] (Gateway edge/narrow {config.start_of('name: narrow,')}) Conflict with gateways "
        "edge/wide (workload selector istio=edge,tier=front, port 443, hosts db.example.com).",
        f"Error [IST0145] (Gateway edge/wide {config.start_of('name: wide,')}) Conflict with gateways "
        "edge/narrow (workload selector istio=edge, port 443, hosts db.example.com).",
    ]


def _conformance_secret(shared: Path, name: str) -> dict[str, str]:
    """The data of a certificate Secret from Istio's analyzer test cases (valid until 2122, or expired)."""
    path = shared / "conformance" / "istio-analyzers" / "testdata" / "gateway-secrets-validation.yaml"
    if name == "httpbin-credential":
        path = path.with_name("gateway-secrets.yaml")
    for document in yaml.safe_load_all(path.read_text()):
        if document and document.get("kind") == "Secret" and document["metadata"]["name"] == name:
            return dict(document["data"])
    raise AssertionError(f"no Secret {name} in {path}")


def _der(tag: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    size = len(body)
    length = bytes([size]) if size < 0x80 else bytes([0x82]) + size.to_bytes(2, "big")
    return bytes([tag]) + length + body


def _not_yet_valid_certificate() -> str:
    """A PEM certificate whose validity (GeneralizedTime) starts in 2999: structure only, no real key."""
    validity = _der(0x30, _der(0x18, b"29990101000000Z"), _der(0x18, b"30000101000000Z"))
    version, serial, algorithm, issuer, subject, key = (
        _der(0xA0, _der(0x02, b"\x02")),
        _der(0x02, b"\x01"),
        _der(0x30),
        _der(0x30),
        _der(0x30),
        _der(0x30),
    )
    tbs = _der(0x30, version, serial, algorithm, issuer, validity, subject, key)
    certificate = _der(0x30, tbs, _der(0x30), _der(0x03, b"\x00"))
    body = base64.b64encode(certificate).decode()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def _secret(name: str, namespace: str, data: dict[str, str], secret_type: str = "kubernetes.io/tls") -> str:
    lines = "".join(f"  {key}: {value}\n" for key, value in data.items())
    metadata = f"{{name: {name}, namespace: {namespace}}}"
    return f"---\napiVersion: v1\nkind: Secret\nmetadata: {metadata}\ntype: {secret_type}\ndata:\n{lines}"


def _tls_server(credential: str, port: int = 443) -> str:
    return (
        f"- port: {{number: {port}, name: https-{port}, protocol: HTTPS}}\n"
        f"  hosts: [app{port}.example.com]\n"
        f"  tls: {{mode: SIMPLE, credentialName: {credential}}}  # {credential}\n"
    )


def test_gateway_credentials(meshctl: MeshctlRunner, tmp_path: Path, shared: Path) -> None:
    good = _conformance_secret(shared, "httpbin-credential")
    expired = _conformance_secret(shared, "expired-secret")
    future = base64.b64encode(_not_yet_valid_certificate().encode()).decode()
    key = good["tls.key"]
    config = Config(
        tmp_path,
        _secret("good", "istio-system", good)
        + _secret("generic", "istio-system", {"cert": good["tls.crt"], "key": key}, "Opaque")
        + _secret("expired", "istio-system", expired)
        + _secret("future", "istio-system", {"tls.crt": future, "tls.key": key})
        + _secret("no-key", "istio-system", {"tls.crt": good["tls.crt"]})
        + _secret("not-pem", "istio-system", {"tls.crt": "aGVsbG8K", "tls.key": key})
        + _secret("elsewhere", "certs", good)
        + gateway(
            "front",
            _tls_server("good", 443)
            + _tls_server("generic", 444)
            + _tls_server("certs/elsewhere", 445)
            + _tls_server("expired", 446)
            + _tls_server("future", 447)
            + _tls_server("no-key", 448)
            + _tls_server("not-pem", 449)
            + _tls_server("missing", 450)
            + _tls_server("elsewhere", 451)  # looked up in istio-system, the gateway pod's namespace
            + "- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ['*']\n",
        )
        + gateway("lost", _tls_server("good", 443).replace("# good", "# lost"), selector="{istio: none}"),
    )
    result = config.analyze(meshctl, SECRETS)
    invalid = (
        "The credential referenced by the Gateway front in namespace istio-system is invalid, which can "
        "cause the traffic not to work as expected."
    )
    assert result.lines == [
        f"Error [IST0101] (Gateway default/front {config.at('# missing')}) "
        'Referenced credentialName not found: "missing"',
        f"Error [IST0101] (Gateway default/front {config.at('# elsewhere')}) "
        'Referenced credentialName not found: "elsewhere"',
        f"Error [IST0101] (Gateway default/lost {config.at('{istio: none}')}) "
        'Referenced selector not found: "istio=none"',
        f"Error [IST0161] (Gateway default/front {config.at('# expired')}) {invalid}",
        f"Error [IST0161] (Gateway default/front {config.at('# future')}) {invalid}",
        f"Error [IST0161] (Gateway default/front {config.at('# no-key')}) {invalid}",
        f"Error [IST0161] (Gateway default/front {config.at('# not-pem')}) {invalid}",
    ]


@pytest.mark.parametrize(
    ("tls_a", "tls_b", "duplicate"),
    [
        ("{mode: SIMPLE, credentialName: shared}", "{mode: SIMPLE, credentialName: shared}", True),
        ("{mode: SIMPLE, credentialName: one}", "{mode: SIMPLE, credentialName: two}", False),
        (
            "{mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}",
            "{mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}",
            True,
        ),
        (
            "{mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}",
            "{mode: SIMPLE, serverCertificate: /c.pem, privateKey: /other.pem}",
            False,
        ),
        ("{mode: SIMPLE, credentialName: shared}", "{mode: SIMPLE, serverCertificate: /c.pem}", False),
    ],
)
def test_duplicate_certificates(
    meshctl: MeshctlRunner, tmp_path: Path, tls_a: str, tls_b: str, duplicate: bool
) -> None:
    def server(host: str, tls: str) -> str:
        return f"- port: {{number: 443, name: https, protocol: HTTPS}}\n  hosts: [{host}]\n  tls: {tls}\n"

    config = Config(
        tmp_path,
        gateway("a", server("a.example.com", tls_a))
        + gateway("b", server("b.example.com", tls_b), selector="{istio: ingressgateway, app: b}"),
    )
    result = config.analyze(meshctl, CERTIFICATES)
    expected = [
        # Only `a` is reported: its selector is a subset of b's, not the other way round.
        f"Warning [IST0138] (Gateway default/a {config.at('name: a,')}) Duplicate certificate in multiple "
        "gateways [default/a default/b] may cause 404s if clients re-use HTTP2 connections."
    ]
    assert result.stdout == ("\n".join(expected) + "\n" if duplicate else "\n")


def test_selector_keys_of_other_types_are_read_as_text(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        gateway(
            "odd",
            "- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ['*']\n",
            selector="{1: a, istio: x}",
        ),
    )
    for analyzer in (PORTS, CONFLICTS, SECRETS, CERTIFICATES):
        result = config.analyze(meshctl, analyzer)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert config.analyze(meshctl, PORTS).lines == [
        f"Error [IST0101] (Gateway default/odd {config.at('selector: {1: a')}) "
        'Referenced selector not found: "1=a,istio=x"'
    ]
