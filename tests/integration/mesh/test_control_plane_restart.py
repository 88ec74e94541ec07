"""A control-plane restart costs the data plane nothing (Istio's promise), on the whole Bookinfo mesh as real
processes (one lab for the module, see conftest.py).

A steady load of pages goes through the ingress gateway on keep-alive connections while meshd is stopped
(SIGTERM, or SIGKILL), stays away, and is started again; the proxies come back one by one, in whatever order.
Every answer counts: all of them must be whole pages. Afterwards every proxy is SYNCED, and the proxies kept
their clusters and endpoints across the restart (their per-endpoint counters carried on: a rebuilt endpoint
would start again from zero). Waits are bounded polls on counts and on what the mesh reports.
"""

from __future__ import annotations

import json

import pytest

from mesh_runtime.launcher import Lab
from mesh_runtime.launcher.readiness import http_get
from tests.integration.mesh.load import OK, PageLoad
from tests.integration.mesh.running import Mesh

#: Pages asked for before meshd stops, while it is away, and once every proxy is back.
BEFORE, WHILE_AWAY, AFTER = 60, 60, 60
GATEWAY = "istio-ingressgateway.istio-system"
PRODUCTPAGE = "productpage-v1.default"


def cluster(service: str) -> str:
    return f"outbound|9080||{service}.default.svc.cluster.local"


#: (proxy, cluster) pairs that carry exactly one request per page answered whole.
ONE_PER_PAGE = (
    (GATEWAY, cluster("productpage")),
    (PRODUCTPAGE, cluster("details")),
    (PRODUCTPAGE, cluster("reviews")),
)


def requests_sent(lab: Lab, proxy_id: str, cluster_name: str) -> int:
    """The requests the proxy sent to the cluster's endpoints, from its own per-endpoint counters."""
    body = http_get(f"http://127.0.0.1:{lab.admin_ports()[proxy_id]}/clusters?format=json")
    (status,) = [c for c in json.loads(body)["cluster_statuses"] if c["name"] == cluster_name]
    return sum(int(host["rq_total"]) for host in status["hosts"])


@pytest.mark.parametrize("kill", [False, True], ids=["SIGTERM", "SIGKILL"])
def test_a_meshd_restart_under_load_fails_no_request(mesh: Mesh, kill: bool) -> None:
    lab = mesh.lab
    meshd = lab.meshd
    assert meshd is not None
    sent_before = {pair: requests_sent(lab, *pair) for pair in ONE_PER_PAGE}

    with PageLoad(lab.gateway_url()) as load:
        load.wait_for(BEFORE)
        lab.stop_meshd(kill=kill)
        assert meshd.returncode == (-9 if kill else 0)
        load.wait_for(load.total + WHILE_AWAY)
        lab.start_meshd()
        lab.wait_synced(timeout=60)  # every proxy reconnected and acknowledged what meshd sent it
        load.wait_for(load.total + AFTER)

    assert load.outcomes == {OK: load.total}, load.outcomes
    assert load.connections == 4, "a keep-alive connection through the gateway was closed"
    lab.wait_synced(timeout=60)
    lab.wait_converged(timeout=60)
    sent = {pair: requests_sent(lab, *pair) - before for pair, before in sent_before.items()}
    assert sent == dict.fromkeys(ONE_PER_PAGE, load.total), (
        "a proxy dropped an endpoint's state (its counters started over) or retried a request"
    )
