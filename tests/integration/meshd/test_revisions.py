"""Two control planes of two revisions as real processes (Istio's canary upgrade): the canary meshd follows
the primary (`--revision canary --follow`), mirrors its config, refuses writes, and the proxies of each
revision reach the workloads of the other; a canary that goes away takes its workloads with it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mesh_runtime.ca import Identity
from mesh_runtime.xds import Node
from mesh_runtime.xds.protocol import Push
from tests.integration.meshd.proxyclient import DiscoveryStream, obtain_certificate
from tests.integration.meshd.running import Meshd
from tests.integration.meshd.test_meshd import BOOKINFO_SERVICES, PRODUCTPAGE, productpage_node, write

REVIEWS = Identity("cluster.local", "default", "bookinfo-reviews")
REVIEWS_CLUSTER = "outbound|9080||reviews.default.svc.cluster.local"
PRODUCTPAGE_CLUSTER = "outbound|9080||productpage.default.svc.cluster.local"
#: Reports every second, holding for three: a canary that stops is noticed within seconds.
FAST = ("--heartbeat-interval", "1s", "--workload-grace-period", "2s")


def reviews_node() -> Node:
    return Node(
        id="reviews-v1.default",
        type="sidecar",
        namespace="default",
        workload="reviews-v1",
        service_account="bookinfo-reviews",
        labels={"app": "reviews", "version": "v1"},
        address="127.0.0.1",
        inbound_port=15126,
        app_ports=(19082,),
        proxy_version="0.1.0",
    )


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[Meshd]:
    server = Meshd(tmp_path / "meshd", extra_args=FAST).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def canary(primary: Meshd) -> Iterator[Meshd]:
    server = Meshd(
        primary.data_dir, extra_args=(*FAST, "--revision", "canary", "--follow", primary.api)
    ).start()
    try:
        yield server
    finally:
        server.kill()


def until(what: str, probe: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def endpoints_of(stream: DiscoveryStream, cluster: str, wanted: Callable[[list[bool]], bool]) -> list[bool]:
    """The health of `cluster`'s endpoints in the first push to `stream` (a whole config or an endpoint
    update) that `wanted` accepts, each push acknowledged as a proxy does."""
    while True:
        push = stream.receive()
        assert isinstance(push, Push)
        stream.ack(push.version, push.nonce)
        assignments = push.config.endpoints if push.config is not None else push.endpoints
        healthy = [e.healthy for a in assignments if a.cluster == cluster for e in a.endpoints]
        if wanted(healthy):
            return healthy


def connect(meshd: Meshd, token: str, identity: Identity, node: Node, directory: Path) -> DiscoveryStream:
    credentials = obtain_certificate(meshd.discovery, meshd.root_cert, token, identity, directory)
    stream = DiscoveryStream(meshd.discovery, meshd.root_cert, credentials)
    stream.upgrade()
    stream.hello(node)
    return stream


def test_the_canary_mirrors_the_config_and_refuses_writes(
    primary: Meshd, canary: Meshd, tmp_path: Path
) -> None:
    assert primary.meshctl("apply", "-f", write(tmp_path, "svc.yaml", BOOKINFO_SERVICES)).code == 0
    assert primary.meshctl("label", "namespace", "default", "istio.io/rev=canary").code == 0

    def mirrored() -> bool:
        listed = canary.meshctl("get", "services", "-o", "json", "--control-plane", canary.api)
        namespace = canary.meshctl("get", "namespace", "default", "-o", "json", "--control-plane", canary.api)
        items = json.loads(listed.stdout)["items"] if listed.code == 0 else []
        services = {i["metadata"]["name"] for i in items}
        return (
            services == {"reviews", "productpage"}
            and json.loads(namespace.stdout)["metadata"]["labels"].get("istio.io/rev") == "canary"
        )

    until("the canary to mirror the services and labels", mirrored)
    assert primary.meshctl("delete", "service", "reviews").code == 0
    until(
        "the canary to mirror the delete",
        lambda: canary.meshctl("get", "service", "reviews", "--control-plane", canary.api).code != 0,
    )

    refused = canary.meshctl("apply", "-f", str(tmp_path / "svc.yaml"), "--control-plane", canary.api)
    assert refused.code != 0
    assert "revision 'canary'" in refused.stderr and primary.api in refused.stderr, refused.stderr

    version = json.loads(primary.meshctl("version", "-o", "json").stdout)
    assert [(m["Revision"], m["Info"]["version"]) for m in version["meshVersion"]] == [
        ("default", "0.1.0"),
        ("canary", "0.1.0"),
    ]
    only = primary.meshctl("version", "-r", "canary")
    assert "control plane version: 0.1.0\n" in only.stdout, only.stdout
    unknown = primary.meshctl("version", "-r", "stable")
    assert unknown.code != 0 and "revisions are: canary, default" in unknown.stderr, unknown.stderr


def test_the_proxies_of_each_revision_reach_each_others_workloads(
    primary: Meshd, canary: Meshd, tmp_path: Path
) -> None:
    assert primary.meshctl("apply", "-f", write(tmp_path, "svc.yaml", BOOKINFO_SERVICES)).code == 0
    until(
        "the canary to mirror the services",
        lambda: canary.meshctl("get", "service", "reviews", "--control-plane", canary.api).code == 0,
    )
    token = primary.token("default/*")
    productpage = connect(primary, token, PRODUCTPAGE, productpage_node(), tmp_path / "a")
    reviews = connect(canary, token, REVIEWS, reviews_node(), tmp_path / "b")
    try:
        # The primary's proxy is told of the canary's workload, and the canary's of the primary's.
        assert endpoints_of(productpage, REVIEWS_CLUSTER, lambda h: h == [True]) == [True]
        assert endpoints_of(reviews, PRODUCTPAGE_CLUSTER, lambda h: h == [True]) == [True]

        def rows() -> dict[str, tuple[str, str]]:
            table = primary.meshctl("proxy-status").stdout.splitlines()[1:]
            return {line.split()[0]: (line.split()[2], line.split()[-2]) for line in table}

        until("both proxies SYNCED", lambda: {state for state, _ in rows().values()} == {"SYNCED"})
        assert rows() == {
            "productpage-v1.default": ("SYNCED", "meshd@127.0.0.1"),
            "reviews-v1.default": ("SYNCED", "meshd-canary@127.0.0.1"),
        }
        version = json.loads(primary.meshctl("version", "-o", "json").stdout)
        assert {(p["ID"], p["Revision"]) for p in version["dataPlaneVersion"]} == {
            ("productpage-v1.default", "default"),
            ("reviews-v1.default", "canary"),
        }

        # The canary goes away (SIGKILL: no goodbye): its workload turns unhealthy, then is removed.
        canary.kill()
        assert endpoints_of(productpage, REVIEWS_CLUSTER, lambda h: h == [False]) == [False]
        assert endpoints_of(productpage, REVIEWS_CLUSTER, lambda h: h == []) == []
        after = json.loads(primary.meshctl("version", "-o", "json").stdout)
        assert [m["Revision"] for m in after["meshVersion"]] == ["default"]
    finally:
        productpage.close()
        reviews.close()
