"""site.yml, healthcheck.yml and bookinfo.yml run for real against one isolated host with the whole mesh on it
(tests/integration/playbooks/mesh_host.py): a check run on the fresh host predicts the changes without
failing and leaves nothing behind; the rollout ends with the health checks' summary; on the running mesh a
check run changes nothing, one for a new namespace or a changed variable predicts it and changes nothing
either, and the phase tags run the checks alone; with a sidecar stopped the checks fail naming its workload,
and pass again once it is back.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.isolated_host import REPO_ROOT, Run
from tests.integration.playbooks.mesh_host import PLAYBOOKS, MeshHost, mesh_host, run_playbook_file

#: Six sidecars and two gateways.
PROXIES = 8
TASK_TAGS = re.compile(r"TASK TAGS: \[(?P<tags>[^\]]*)\]")


@dataclass
class Rollout:
    mesh: MeshHost
    fresh_check: Run
    left_by_the_check: list[Path]
    first: Run


@pytest.fixture(scope="module")
def rollout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rollout]:
    controller = tmp_path_factory.mktemp("controller")
    with mesh_host(controller) as mesh:
        fresh_check = mesh.run("site.yml", "fresh-check", "--check")
        left = sorted(mesh.host.base.rglob("*")) + (
            [mesh.host.credentials_dir] if mesh.host.credentials_dir.exists() else []
        )
        first = mesh.run("site.yml", "first")
        yield Rollout(mesh=mesh, fresh_check=fresh_check, left_by_the_check=left, first=first)


def meshctl(mesh: MeshHost, *args: str) -> subprocess.CompletedProcess[str]:
    connection = [f"--control-plane=127.0.0.1:{mesh.ports['api']}", f"--data-dir={mesh.host.data_dir}"]
    return subprocess.run(
        [str(mesh.host.venv / "bin" / "meshctl"), *args, *connection],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_check_run_on_a_fresh_host_predicts_the_rollout_and_changes_nothing(rollout: Rollout) -> None:
    run = rollout.fresh_check
    host = rollout.mesh.host

    assert run.returncode == 0, run.output
    assert run.recap()["failed"] == 0
    assert run.recap()["changed"] > 0
    assert rollout.left_by_the_check == []
    assert "[WARNING]" not in run.output
    # --diff shows the files the run would write (a template's diff is headed by its source), and what meshd
    # would be given.
    assert f"+pidfile={host.run_dir}/supervisord.pid" in run.stdout
    assert "+[program:meshlab-meshd]" in run.stdout
    assert "would create Namespace istio-system and Service istio-system/istio-ingressgateway" in run.stdout
    assert "would create Gateway default/bookinfo-gateway, VirtualService default/bookinfo" in run.stdout
    # The verify tasks say what they would check.
    monitoring = rollout.mesh.ports["monitoring"]
    assert f"would check: meshd answers 200 on http://127.0.0.1:{monitoring}/ready" in run.stdout
    assert "would check: every proxy is SYNCED in meshctl proxy-status" in run.stdout


def test_the_rollout_ends_with_the_health_checks_summary(rollout: Rollout) -> None:
    run = rollout.first
    ports = rollout.mesh.ports

    assert run.returncode == 0, run.output
    assert f"proxies: {PROXIES} of {PROXIES} SYNCED" in run.stdout
    assert "analyze: 0 Error, 0 Warning" in run.stdout
    assert re.search(
        r"versions: meshctl \S+; control plane meshd \S+; data plane \S+ \(8 proxies\)", run.stdout
    )
    # The product page comes through the ingress gateway on the port its variables give it.
    assert (
        f"product page: http://127.0.0.1:{ports['ingress_http']}/productpage, reviews served by "
        "reviews-v1, reviews-v2, reviews-v3" in run.stdout
    )
    assert f"addons: prometheus http://127.0.0.1:{ports['prometheus']}" in run.stdout


def test_a_check_run_on_the_running_mesh_changes_nothing(rollout: Rollout) -> None:
    assert rollout.first.returncode == 0, rollout.first.output

    run = rollout.mesh.run("site.yml", "installed-check", "--check")

    assert run.returncode == 0, run.output
    assert run.recap()["changed"] == 0, run.stdout


def test_a_check_run_for_a_new_namespace_predicts_it_and_changes_nothing(rollout: Rollout) -> None:
    assert rollout.first.returncode == 0, rollout.first.output

    run = rollout.mesh.run("bookinfo.yml", "shop", "--check", extra_vars={"bookinfo_namespace": "shop"})

    assert run.returncode == 0, run.output
    assert run.recap()["failed"] == 0
    assert run.recap()["changed"] > 0
    assert "+++ after: Namespace shop" in run.stdout
    assert "+++ after: Service shop/productpage" in run.stdout
    shop = meshctl(rollout.mesh, "get", "namespace", "shop")
    assert shop.returncode != 0
    assert 'namespaces "shop" not found' in shop.stderr


def test_a_check_run_with_a_changed_variable_predicts_the_change_and_applies_nothing(
    rollout: Rollout,
) -> None:
    assert rollout.first.returncode == 0, rollout.first.output
    program = rollout.mesh.host.config_dir / "supervisor.d" / "meshlab-meshd.conf"
    before = program.read_text()

    run = rollout.mesh.run(
        "site.yml", "changed-check", "--check", extra_vars={"control_plane_log_level": "debug"}
    )

    assert run.returncode == 0, run.output
    assert run.recap()["changed"] > 0
    assert re.search(r"^\+command=.*meshd serve .*--log-level debug$", run.stdout, re.MULTILINE)
    assert program.read_text() == before
    assert "--log-level info" in before


@pytest.mark.parametrize(
    ("playbook", "tags"),
    [("site.yml", "verify"), ("healthcheck.yml", "verify"), ("healthcheck.yml", "healthcheck_verify")],
)
def test_the_checks_run_alone_on_the_running_mesh(rollout: Rollout, playbook: str, tags: str) -> None:
    assert rollout.first.returncode == 0, rollout.first.output

    run = rollout.mesh.run(playbook, f"{playbook}-{tags}", "--tags", tags)

    assert run.returncode == 0, run.output
    assert run.recap()["changed"] == 0, run.stdout
    assert f"proxies: {PROXIES} of {PROXIES} SYNCED" in run.stdout
    tasks = re.findall(r"^TASK \[([^\]]*)\]", run.stdout, re.MULTILINE)
    assert "meshlab.mesh.healthcheck : Check the versions (meshctl, meshd and every proxy agree)" in tasks
    # Nothing of the install and configure phases ran.
    assert not [task for task in tasks if re.search(r"Build the wheelhouse|Write the program|Run each", task)]
    if playbook == "site.yml":
        assert "meshlab.mesh.control_plane : Wait for meshd to be ready" in tasks
        assert "meshlab.mesh.bookinfo : Wait for each sidecar to be ready" in tasks


def test_the_playbooks_list_the_cross_role_tags(tmp_path: Path) -> None:
    tags: dict[str, set[str]] = {}
    for playbook in ("site.yml", "healthcheck.yml"):
        run = run_playbook_file(
            PLAYBOOKS / playbook,
            tmp_path / playbook,
            REPO_ROOT / "inventories" / "local",
            options=["--list-tags"],
        )
        assert run.returncode == 0, run.output
        tags[playbook] = {
            tag.strip() for found in TASK_TAGS.finditer(run.stdout) for tag in found["tags"].split(",")
        }

    assert {"always", "install", "configure", "verify", "bookinfo", "addons"} <= tags["site.yml"]
    assert {"always", "verify", "healthcheck", "healthcheck_verify"} <= tags["healthcheck.yml"]


def supervisorctl(mesh: MeshHost, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(mesh.host.venv / "bin" / "supervisorctl"),
            "-c",
            str(mesh.host.config_dir / "supervisord.conf"),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def ready(mesh: MeshHost, namespace: str, name: str) -> bool:
    pods = meshctl(mesh, "get", "pods", "-n", namespace, "-o", "json")
    assert pods.returncode == 0, pods.stderr
    for pod in json.loads(pods.stdout)["items"]:
        if pod["metadata"]["name"] == name:
            conditions = pod.get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return False


# Last in the file: it stops a sidecar (and starts it again) on the module's mesh.
def test_a_stopped_sidecar_fails_the_checks_naming_its_workload_until_it_is_back(rollout: Rollout) -> None:
    assert rollout.first.returncode == 0, rollout.first.output
    stopped = supervisorctl(rollout.mesh, "stop", "meshlab-sidecar-details-v1")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    try:
        run = rollout.mesh.run("healthcheck.yml", "sidecar-down")

        assert run.returncode != 0
        assert run.recap()["failed"] == 1
        assert "not ready: default/details-v1; the proxy has lost its connection to meshd" in run.stdout
        # The proxy left proxy-status with its connection: the proxies that remain are in sync.
        assert "proxies not in sync" not in run.stdout
    finally:
        started = supervisorctl(rollout.mesh, "start", "meshlab-sidecar-details-v1")
    assert started.returncode == 0, started.stdout + started.stderr
    for _ in range(60):
        if ready(rollout.mesh, "default", "details-v1"):
            break
        time.sleep(1)

    again = rollout.mesh.run("healthcheck.yml", "sidecar-back")

    assert again.returncode == 0, again.output
    assert f"proxies: {PROXIES} of {PROXIES} SYNCED" in again.stdout
