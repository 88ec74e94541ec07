"""Lab specs from YAML: what is read, and every mistake named with its file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh_runtime.launcher.spec import SpecError, load_spec, spec_from_document

GOOD = """\
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
workloads:
- name: ratings-v1
  serviceAccount: bookinfo-ratings
  labels: {app: ratings, version: v1}
  command: ["{python}", "-m", "bookinfo", "ratings", "--port", "{app_port}"]
  env: {LOG: "{name}"}
- name: details-v1
  labels: {app: details}
  command: [details]
  sidecar: false
  appPort: 29080
gateways:
- name: istio-ingressgateway
  serviceAccount: istio-ingressgateway-service-account
  labels: {istio: ingressgateway}
  ports: [{name: http2, port: 8080}]
resources:
- {apiVersion: networking.istio.io/v1, kind: Gateway, metadata: {name: gw}, spec: {}}
"""


def load(text: str, tmp_path: Path) -> object:
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    return load_spec(path)


def test_a_spec_is_read_with_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(GOOD)
    spec = load_spec(path)
    assert spec.name == "small"
    assert spec.trust_domain == "cluster.local"
    assert [n.name for n in spec.namespaces] == ["default", "istio-system"]
    assert dict(spec.namespaces[0].labels) == {"istio-injection": "enabled"}
    ratings = spec.services[0]
    assert (ratings.namespace, ratings.hostname) == ("default", "ratings.default.svc.cluster.local")
    assert [(p.name, p.port, p.target_port) for p in ratings.ports] == [("http", 9080, 0)]
    first, second = spec.workloads
    assert (first.namespace, first.service_account, first.sidecar, first.app_port) == (
        "default",
        "bookinfo-ratings",
        True,
        0,
    )
    assert first.command[0] == "{python}" and dict(first.env) == {"LOG": "{name}"}
    assert (second.service_account, second.sidecar, second.app_port) == ("default", False, 29080)
    gateway = spec.gateways[0]
    assert (gateway.namespace, gateway.proxy_id) == ("istio-system", "istio-ingressgateway.istio-system")
    assert spec.resources[0]["kind"] == "Gateway"


def test_identities_are_those_of_proxies_once_each(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(GOOD)
    spec = load_spec(path)
    # details-v1 has no sidecar: it asks for no certificate, so it gets no token.
    assert spec.identities() == [
        ("default", "bookinfo-ratings"),
        ("istio-system", "istio-ingressgateway-service-account"),
    ]
    assert [w.name for w in spec.selected_workloads(spec.services[0])] == ["ratings-v1"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("ports: [{name: http, port: 9080}]", "ports: []"),
            "services[0].ports: at least one port is needed",
        ),
        (("port: 9080}", "port: 90800}"), "services[0].ports[0].port: expected a port number (1-65535)"),
        (("- name: ratings-v1", "- name: Ratings"), "workloads[0].name: 'Ratings' is not a DNS label"),
        (("command: [details]", "command: []"), "workloads[1].command: the command that runs the app"),
        (("sidecar: false", "sidecar: 'no'"), "workloads[1].sidecar: expected true or false"),
        (("{app: ratings, version: v1}", "{app: ratings, version: 1}"), "workloads[0].labels.version"),
        (("- name: istio-system\n", ""), "gateways[0].namespace: namespace 'istio-system' is not declared"),
        (
            ("- name: details-v1", "- name: ratings-v1"),
            "workloads: 'ratings-v1' in 'default' is declared twice",
        ),
        (("resources:\n- {", "resources:\n- - {"), "resources[0]: expected a mapping, got list"),
    ],
)
def test_mistakes_are_named_with_file_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    path = tmp_path / "lab.yaml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value).startswith(f"{path}: "), raised.value
    assert message in str(raised.value)


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the lab spec"):
        load_spec(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not YAML"):
        load_spec(broken)
    with pytest.raises(SpecError, match="the document: expected a mapping, got list"):
        spec_from_document([1], "inline")
