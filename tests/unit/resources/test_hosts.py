from __future__ import annotations

import pytest

from mesh_runtime.resources.hosts import (
    ServiceName,
    gateway_reference,
    kubernetes_service,
    matches,
    split_namespaced_host,
    subset_of,
    to_fqdn,
)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("reviews", "reviews.default.svc.cluster.local"),
        ("reviews.prod.svc.cluster.local", "reviews.prod.svc.cluster.local"),
        ("*.example.com", "*.example.com"),
        ("*", "*"),
        ("www.example.com", "www.example.com"),
    ],
)
def test_short_names_resolve_in_the_rules_namespace(host: str, expected: str) -> None:
    assert to_fqdn(host, "default") == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("reviews", ServiceName("default", "reviews")),
        ("reviews.prod.svc.cluster.local", ServiceName("prod", "reviews")),
        ("reviews.prod.svc.corp.example", ServiceName("prod", "reviews")),
        ("www.google.com", ServiceName("default", "www.google.com")),
        ("reviews.prod", ServiceName("default", "reviews.prod")),
    ],
)
def test_kubernetes_service_of_a_host(host: str, expected: ServiceName) -> None:
    assert kubernetes_service(host, "default") == expected


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("a.com", "a.com", True),
        ("*.a.com", "b.a.com", True),
        ("b.a.com", "*.a.com", True),
        ("*", "anything.at.all", True),
        ("*.a.com", "*.b.a.com", True),
        ("*.a.com", "a.com", False),
        ("a.com", "b.com", False),
        ("*.a.com", "*.b.com", False),
    ],
)
def test_matches_is_wildcard_aware_and_symmetric(a: str, b: str, overlap: bool) -> None:
    assert matches(a, b) is overlap
    assert matches(b, a) is overlap


def test_subset_of() -> None:
    assert subset_of("b.a.com", "*.a.com")
    assert subset_of("*.b.a.com", "*.a.com")
    assert not subset_of("*.a.com", "b.a.com")
    assert not subset_of("a.com", "*.a.com")


def test_namespaced_hosts_and_gateway_references() -> None:
    assert split_namespaced_host("./reviews.com", "prod") == ("prod", "reviews.com")
    assert split_namespaced_host("test/*", "prod") == ("test", "*")
    assert split_namespaced_host("*.com", "prod") == ("*", "*.com")
    assert gateway_reference("istio-system/gw", "prod") == ("istio-system", "gw")
    assert gateway_reference("gw", "prod") == ("prod", "gw")
