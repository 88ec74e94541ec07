"""`meshctl get` with -l, --field-selector and --ignore-not-found, and its JSON when nothing is found,
against a real meshd; and the Reconciled condition of Istio's kinds as meshctl shows it."""

from __future__ import annotations

import json

from tests.integration.meshd.running import Meshd

RULES = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, labels: {app: reviews, tier: back}}
spec: {host: reviews}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, labels: {app: ratings, tier: back}}
spec: {host: ratings}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: productpage, namespace: shop, labels: {app: productpage}}
spec: {host: productpage}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, labels: {app: reviews}}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
"""


def names(meshd: Meshd, *argv: str) -> list[str]:
    result = meshd.meshctl("get", *argv, "-o", "json")
    assert result.code == 0, result.stderr
    return [item["metadata"]["name"] for item in json.loads(result.stdout)["items"]]


def test_selectors_choose_what_get_lists(meshd: Meshd) -> None:
    assert meshd.meshctl("apply", "-f", "-", stdin=RULES).code == 0
    assert names(meshd, "dr", "-l", "tier=back") == ["ratings", "reviews"]
    assert names(meshd, "dr", "-A", "--selector", "app in (productpage,reviews)") == [
        "reviews",  # default/reviews, then shop/productpage
        "productpage",
    ]
    assert names(meshd, "dr", "-A", "-l", "!tier") == ["productpage"]
    assert names(meshd, "dr", "-A", "--field-selector", "metadata.namespace=shop") == ["productpage"]
    assert names(meshd, "dr", "-l", "tier=back", "--field-selector", "metadata.name!=reviews") == ["ratings"]
    table = meshd.meshctl("get", "dr", "-l", "app=nothing")
    assert (table.code, table.stdout, table.stderr) == (0, "", "No resources found in default namespace.\n")


def test_nothing_found_is_an_empty_list_in_json_and_yaml(meshd: Meshd) -> None:
    empty = meshd.meshctl("get", "vs", "-n", "nowhere", "-o", "json")
    assert empty.code == 0 and empty.stderr == ""
    assert json.loads(empty.stdout) == {
        "apiVersion": "v1",
        "items": [],
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }
    assert meshd.meshctl("get", "vs", "-o", "yaml").stdout.startswith("apiVersion: v1\nitems: []\n")


def test_ignore_not_found_and_selector_usage(meshd: Meshd) -> None:
    missing = meshd.meshctl("get", "dr", "nope", "-o", "json")
    assert missing.code == 1 and 'destinationrules.networking.istio.io "nope" not found' in missing.stderr
    ignored = meshd.meshctl("get", "dr", "nope", "--ignore-not-found", "-o", "json")
    assert (ignored.code, ignored.stdout, ignored.stderr) == (0, "", "")
    pods = meshd.meshctl("get", "pods", "nope", "--ignore-not-found", "-o", "json")
    assert (pods.code, pods.stdout) == (0, "")
    both = meshd.meshctl("get", "dr", "reviews", "-l", "app=reviews")
    assert both.code == 64 and "name cannot be provided when a selector is specified" in both.stderr
    field = meshd.meshctl("get", "dr", "--field-selector", "spec.host=reviews")
    assert field.code == 64 and "field label not supported: spec.host" in field.stderr
    label = meshd.meshctl("get", "pods", "-l", "app=(x")
    assert label.code == 64 and "--selector 'app=(x': unable to parse requirement" in label.stderr


def test_istio_kinds_show_their_reconciled_condition(meshd: Meshd) -> None:
    assert meshd.meshctl("apply", "-f", "-", stdin=RULES).code == 0
    rule = json.loads(meshd.meshctl("get", "dr", "reviews", "-o", "json").stdout)
    assert rule["status"]["conditions"] == [
        {
            "type": "Reconciled",
            "status": "True",
            "reason": "ProxiesUpToDate",
            "message": "0/0 proxies up to date.",
        }
    ]
    service = json.loads(meshd.meshctl("get", "svc", "reviews", "-o", "json").stdout)
    assert "status" not in service
