"""The runtime and control_plane roles, applied by a real ansible-playbook to an isolated lab on this machine
(see tests/integration/isolated_host.py), with a plugged-in CA."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mesh_runtime.ca import Identity
from tests.integration.isolated_host import (
    CONTROL_PLANE_PLAY,
    MESH_PLAYBOOK,
    Host,
    Run,
    free_ports,
    processes_under,
    run_playbook,
    seed_controller,
    stop_supervisord,
    write_inventory,
)
from tests.integration.meshd.proxyclient import obtain_certificate

TOKEN_PLAYBOOK = """\
- name: Hand a workload a bootstrap token
  hosts: workers
  gather_facts: false
  tasks:
    - name: Learn the runtime's paths
      ansible.builtin.include_role:
        name: meshlab.mesh.runtime
        tasks_from: facts

    - name: Write the bootstrap token of default/test
      ansible.builtin.include_role:
        name: meshlab.mesh.control_plane
        tasks_from: bootstrap_token
      vars:
        control_plane_token_identity: default/test
        control_plane_token_file: "{{ token_file }}"
"""
SERVICE_PLAYBOOK = """\
- name: Keep one service in the state asked for
  hosts: workers
  gather_facts: false
  tasks:
    - name: The service
      ansible.builtin.include_role:
        name: meshlab.mesh.runtime
        tasks_from: service
      vars:
        runtime_service_name: argv-probe
        runtime_service_argv: "{{ probe_argv }}"
        runtime_service_environment: "{{ probe_environment }}"
        runtime_service_state: "{{ probe_state }}"
"""
#: A program that writes the argv and environment it was started with, then waits to be stopped.
PROBE_SOURCE = (
    "import json, os, sys, time; "
    "open(sys.argv[1], 'w').write(json.dumps([sys.argv[2:], os.environ.get('PROBE_VALUE')])); "
    "time.sleep(600)"
)


@dataclass
class CAFiles:
    root: x509.Certificate
    intermediate: x509.Certificate
    key_pem: bytes
    paths: dict[str, str]


def make_ca(directory: Path) -> CAFiles:
    """Istio's cacerts: a self-signed root and an intermediate CA it signs (the CA meshd signs with)."""
    directory.mkdir(parents=True)
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meshlab test"),
            x509.NameAttribute(NameOID.COMMON_NAME, "plugged-in root"),
        ]
    )
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meshlab test"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "plugged-in intermediate"),
                ]
            )
        )
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    root_pem = root.public_bytes(serialization.Encoding.PEM)
    intermediate_pem = intermediate.public_bytes(serialization.Encoding.PEM)
    contents = {
        "ca_cert": ("ca-cert.pem", intermediate_pem),
        "ca_key": ("ca-key.pem", key_pem),
        "root_cert": ("root-cert.pem", root_pem),
        "cert_chain": ("cert-chain.pem", intermediate_pem + root_pem),
    }
    paths: dict[str, str] = {}
    for option, (name, data) in contents.items():
        (directory / name).write_bytes(data)
        paths[option] = str(directory / name)
    return CAFiles(root=root, intermediate=intermediate, key_pem=key_pem, paths=paths)


def ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass
class Lab:
    host: Host
    ca: CAFiles
    inventory: Path
    first: Run
    second: Run


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    controller = tmp_path_factory.mktemp("controller")
    base = Path(tempfile.mkdtemp(prefix="ml-", dir="/tmp"))
    discovery, api, monitoring = free_ports(3)
    host = Host(
        base=base, controller=controller, ports={"discovery": discovery, "api": api, "monitoring": monitoring}
    )
    try:
        seed_controller(controller)
        ca = make_ca(controller / "cacerts")
        variables = host.variables() | {"control_plane_ca_files": ca.paths}
        inventory = write_inventory(controller / "inventory.yml", variables)
        first = run_playbook(MESH_PLAYBOOK, controller / "first", inventory)
        second = (
            run_playbook(MESH_PLAYBOOK, controller / "second", inventory) if first.returncode == 0 else first
        )
        yield Lab(host=host, ca=ca, inventory=inventory, first=first, second=second)
    finally:
        left = stop_supervisord(host)
        shutil.rmtree(base, ignore_errors=True)
    assert left == [], f"processes were left running under {base}: {left}"


def test_the_roles_install_and_start_meshd(lab: Lab) -> None:
    assert lab.first.returncode == 0, lab.first.output
    assert lab.first.recap()["failed"] == 0
    assert lab.first.recap()["changed"] > 0


def test_a_second_run_changes_nothing(lab: Lab) -> None:
    assert lab.second.returncode == 0, lab.second.output
    assert lab.second.recap()["changed"] == 0, lab.second.stdout


def test_meshd_trusts_the_plugged_in_root(lab: Lab) -> None:
    root_file = lab.host.data_dir / "root-cert.pem"

    roots = x509.load_pem_x509_certificates(root_file.read_bytes())

    assert roots == [lab.ca.root]


def test_the_plugged_in_key_is_private(lab: Lab) -> None:
    cacerts = lab.host.config_dir / "cacerts"
    key_file = cacerts / "ca-key.pem"

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cacerts.stat().st_mode) == 0o700
    assert key_file.read_bytes() == lab.ca.key_pem
    assert x509.load_pem_x509_certificate((cacerts / "ca-cert.pem").read_bytes()) == lab.ca.intermediate


def test_the_admin_token_is_the_controllers_and_private(lab: Lab) -> None:
    host_file = lab.host.data_dir / "admin-token"
    controller_file = lab.host.credentials_dir / "admin-token"

    assert stat.S_IMODE(host_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(controller_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(lab.host.credentials_dir.stat().st_mode) == 0o700
    token = host_file.read_text().strip()
    assert len(token) == 43
    assert token == controller_file.read_text().strip()


def test_no_secret_reaches_the_output(lab: Lab) -> None:
    token = (lab.host.data_dir / "admin-token").read_text().strip()
    key_lines = [line for line in lab.ca.key_pem.decode().splitlines() if not line.startswith("-----")]

    for run in (lab.first, lab.second):
        assert token not in run.output
        for line in key_lines:
            assert line not in run.output
        assert "PRIVATE KEY" not in run.output
    # --diff shows what copy writes, so the checks above would see a leaked key: the public files do show.
    certificate_line = lab.ca.intermediate.public_bytes(serialization.Encoding.PEM).decode().splitlines()[1]
    assert certificate_line in lab.first.output


def test_meshd_answers_ready_on_the_monitoring_port(lab: Lab) -> None:
    url = f"http://127.0.0.1:{lab.host.ports['monitoring']}/ready"

    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200


def test_a_bootstrap_token_gets_a_certificate_from_the_plugged_in_ca(lab: Lab, tmp_path: Path) -> None:
    token_file = tmp_path / "token"

    first = run_playbook(TOKEN_PLAYBOOK, tmp_path / "first", lab.inventory, {"token_file": str(token_file)})
    again = run_playbook(TOKEN_PLAYBOOK, tmp_path / "again", lab.inventory, {"token_file": str(token_file)})

    assert first.returncode == 0, first.output
    assert first.recap()["changed"] > 0
    assert again.returncode == 0, again.output
    assert again.recap()["changed"] == 0, again.stdout
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token not in first.output
    assert token == (lab.host.credentials_dir / "bootstrap-default.test").read_text().strip()
    identity = Identity.for_service_account("default", "test")

    credentials = obtain_certificate(
        ("127.0.0.1", lab.host.ports["discovery"]),
        lab.host.data_dir / "root-cert.pem",
        token,
        identity,
        tmp_path / "workload",
    )

    chain = x509.load_pem_x509_certificates(credentials.chain_file.read_bytes())
    assert chain[1:] == [lab.ca.intermediate, lab.ca.root]
    assert chain[0].issuer == lab.ca.intermediate.subject
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [identity.uri]


def test_an_incomplete_plugged_in_ca_is_refused_before_anything_is_installed(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="ml-", dir="/tmp"))
    try:
        host = Host(
            base=base,
            controller=tmp_path,
            ports=dict(zip(("discovery", "api", "monitoring"), free_ports(3), strict=True)),
        )
        ca = make_ca(tmp_path / "cacerts")
        two_keys = {"ca_cert": ca.paths["ca_cert"], "ca_key": ca.paths["ca_key"]}
        inventory = write_inventory(
            tmp_path / "inventory.yml", host.variables() | {"control_plane_ca_files": two_keys}
        )

        run = run_playbook(CONTROL_PLANE_PLAY, tmp_path / "run", inventory)

        assert run.returncode != 0
        assert "control_plane_ca_files: give all four of ca_cert, ca_key, root_cert, cert_chain" in run.output
        assert run.recap()["failed"] == 1
        assert not host.data_dir.exists()
        assert not host.venv.exists()
        assert not host.credentials_dir.exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_service_gets_its_argv_and_environment_word_for_word(lab: Lab, tmp_path: Path) -> None:
    report = tmp_path / "probe.json"
    words = ["two words", 'a "quoted" word', "50%", "$HOME", "back\\slash", "it's"]
    value = 'spaces, "quotes", 100% and $HOME'
    variables = {
        "probe_argv": [str(lab.host.venv / "bin" / "python"), "-c", PROBE_SOURCE, str(report), *words],
        "probe_environment": {"PROBE_VALUE": value},
    }
    program = lab.host.config_dir / "supervisor.d" / "meshlab-argv-probe.conf"

    started = run_playbook(
        SERVICE_PLAYBOOK, tmp_path / "started", lab.inventory, {**variables, "probe_state": "started"}
    )
    assert started.returncode == 0, started.output
    assert program.exists()
    for _ in range(100):
        if report.exists() and report.read_text():
            break
        time.sleep(0.1)
    assert json.loads(report.read_text()) == [words, value]
    again = run_playbook(
        SERVICE_PLAYBOOK, tmp_path / "again", lab.inventory, {**variables, "probe_state": "started"}
    )
    assert again.returncode == 0, again.output
    assert again.recap()["changed"] == 0, again.stdout

    stopped = run_playbook(
        SERVICE_PLAYBOOK, tmp_path / "stopped", lab.inventory, {**variables, "probe_state": "stopped"}
    )
    assert stopped.returncode == 0, stopped.output
    assert not [pid for pid in processes_under(tmp_path) if pid != os.getpid()]
    assert program.exists()

    absent = run_playbook(
        SERVICE_PLAYBOOK, tmp_path / "absent", lab.inventory, {**variables, "probe_state": "absent"}
    )
    assert absent.returncode == 0, absent.output
    assert not program.exists()
    gone = run_playbook(
        SERVICE_PLAYBOOK, tmp_path / "gone", lab.inventory, {**variables, "probe_state": "absent"}
    )
    assert gone.returncode == 0, gone.output
    assert gone.recap()["changed"] == 0, gone.stdout
