"""A canary upgrade of the control plane (meshlab_revision, meshlab_default_revision; docs/rollout.md) rolled
out for real on one isolated host (tests/integration/playbooks/mesh_host.py), as Istio's canary upgrade goes:
a second control plane of revision canary beside meshd, Bookinfo's namespace moved to it (istio.io/rev) and
re-injected, then the default tag moved to it (the gateways follow), then everything moved back and the canary
removed, which is refused while it still serves proxies. Pages go through the ingress gateway at every step;
a second run changes nothing.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.isolated_host import Run
from tests.integration.playbooks.mesh_host import MeshHost, mesh_host
from tests.integration.playbooks.test_profiles import meshctl, pids, programs

SIDECARS = ("details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1")
GATEWAYS = ("istio-ingressgateway", "istio-egressgateway")
TO_CANARY = [{"name": "default", "labels": {"istio-injection": None, "istio.io/rev": "canary"}}]
INJECTED = [{"name": "default", "labels": {"istio-injection": "enabled", "istio.io/rev": None}}]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshHost]:
    with mesh_host(tmp_path_factory.mktemp("controller")) as mesh:
        run = site(mesh, "first")
        assert run.returncode == 0, run.output
        yield mesh


def site(mesh: MeshHost, name: str, *options: str, **variables: Any) -> Run:
    return mesh.run("site.yml", name, *options, extra_vars=variables)


#: Runs whose outcome the test reads from the mesh itself leave the health checks out (they run in the
#: others: every proxy of both revisions SYNCED, scraped, the page through the gateway).
UNVERIFIED = ("--skip-tags", "verify")


def serving(mesh: MeshHost) -> dict[str, str]:
    """Each proxy's control plane (the ISTIOD column of proxy-status, without the host), by proxy name."""
    status = meshctl(mesh, "proxy-status")
    assert status.returncode == 0, status.stderr
    rows = [line.split() for line in status.stdout.splitlines()[1:]]
    return {row[0].split(".")[0]: row[-2].split("@")[0] for row in rows}


def product_page(mesh: MeshHost) -> str:
    url = f"http://127.0.0.1:{mesh.ports['ingress_http']}/productpage"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        assert response.status == 200
        return str(response.read().decode())


def versions(mesh: MeshHost) -> dict[str, Any]:
    version = subprocess.run(
        [
            str(mesh.host.venv / "bin" / "meshctl"),
            "version",
            "-o",
            "json",
            f"--control-plane=127.0.0.1:{mesh.ports['monitoring']}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report: dict[str, Any] = json.loads(version.stdout)
    return report


def sidecar_pids(mesh: MeshHost) -> dict[str, int]:
    return {name: pid for name, pid in pids(mesh).items() if "sidecar-" in name}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"meshlab_revision": "Canary"},
            'meshlab_revision "Canary" must be empty (one control plane) or a DNS',
        ),
        ({"meshlab_revision": "default"}, "or a DNS label other than default"),
        ({"meshlab_default_revision": "canary"}, 'meshlab_default_revision "canary" must name an installed'),
        (
            {
                "meshlab_revision": "canary",
                "injection_namespaces": [
                    {"name": "default", "labels": {"istio-injection": None, "istio.io/rev": "stable"}}
                ],
                "bookinfo_reinject": True,
            },
            "namespace default would be labelled istio.io/rev=stable, but no control plane of that revision",
        ),
    ],
)
def test_a_bad_revision_fails_naming_it(mesh: MeshHost, variables: dict[str, Any], message: str) -> None:
    before = pids(mesh)
    run = site(mesh, "bad-" + "-".join(sorted(variables)), **variables)

    assert run.returncode != 0
    assert message in run.output
    assert "Traceback" not in run.output
    assert pids(mesh) == before, "a refused run restarted a service"


def test_a_canary_upgrade_moves_a_namespace_then_the_default_tag(mesh: MeshHost) -> None:
    before = pids(mesh)
    assert set(serving(mesh).values()) == {"meshd"}

    # The canary beside meshd; Bookinfo's namespace labelled for it and re-injected (rollout restart).
    run = site(
        mesh, "canary", meshlab_revision="canary", injection_namespaces=TO_CANARY, bookinfo_reinject=True
    )

    assert run.returncode == 0, run.output
    assert {"meshd", "meshd-canary"} <= programs(mesh)
    assert serving(mesh) == dict.fromkeys(SIDECARS, "meshd-canary") | dict.fromkeys(GATEWAYS, "meshd")
    after = pids(mesh)
    unmoved = [name for name in before if "sidecar-" not in name and "bookinfo-" not in name]
    assert {name: after[name] for name in unmoved} == {name: before[name] for name in unmoved}, (
        "installing the canary restarted meshd, a gateway or an addon"
    )
    assert "Book Details" in product_page(mesh)
    assert f"proxies: {len(SIDECARS) + 2} of {len(SIDECARS) + 2} SYNCED" in run.stdout
    assert [m["Revision"] for m in versions(mesh)["meshVersion"]] == ["default", "canary"]

    again = site(mesh, "canary-again", *UNVERIFIED, meshlab_revision="canary", injection_namespaces=TO_CANARY)
    assert again.returncode == 0, again.output
    assert again.recap()["changed"] == 0, again.stdout

    # The default tag to the canary: the namespace back on istio-injection=enabled, whose proxies the
    # canary now serves; the gateways follow the tag. The sidecars keep running where they are.
    on_canary = sidecar_pids(mesh)
    moved = site(
        mesh,
        "default-tag",
        meshlab_revision="canary",
        meshlab_default_revision="canary",
        injection_namespaces=INJECTED,
        bookinfo_reinject=True,
    )

    assert moved.returncode == 0, moved.output
    assert serving(mesh) == dict.fromkeys(SIDECARS + GATEWAYS, "meshd-canary")
    assert sidecar_pids(mesh) == on_canary
    assert "Book Details" in product_page(mesh)

    # Removing the canary while it serves proxies is refused, and changes nothing.
    running = pids(mesh)
    refused = site(mesh, "remove-refused", *UNVERIFIED)
    assert refused.returncode != 0
    assert "the control plane of revision canary still serves" in refused.output, refused.output
    assert pids(mesh) == running

    # Everything back on meshd, then the canary removed.
    back = site(
        mesh, "back", meshlab_revision="canary", injection_namespaces=INJECTED, bookinfo_reinject=True
    )
    assert back.returncode == 0, back.output
    assert set(serving(mesh).values()) == {"meshd"}
    removed = site(mesh, "removed")
    assert removed.returncode == 0, removed.output
    assert "meshd-canary" not in programs(mesh)
    assert "Book Details" in product_page(mesh)
