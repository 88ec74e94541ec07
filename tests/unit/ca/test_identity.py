from __future__ import annotations

import pytest

from mesh_runtime.ca.identity import DEFAULT_TRUST_DOMAIN, Identity, IdentityError


def test_parses_and_formats_a_spiffe_uri() -> None:
    identity = Identity.parse("spiffe://cluster.local/ns/default/sa/bookinfo-productpage")

    assert identity == Identity("cluster.local", "default", "bookinfo-productpage")
    assert identity.uri == "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
    assert str(identity) == identity.uri


def test_principal_is_the_uri_without_the_scheme() -> None:
    identity = Identity.for_service_account("default", "bookinfo-reviews")

    assert identity.trust_domain == DEFAULT_TRUST_DOMAIN == "cluster.local"
    assert identity.principal == "cluster.local/ns/default/sa/bookinfo-reviews"
    assert Identity.parse_principal(identity.principal) == identity


def test_other_trust_domains_and_dotted_service_accounts() -> None:
    identity = Identity.parse("spiffe://prod.example_corp-1/ns/istio-system/sa/istio.ingressgateway")

    assert identity.trust_domain == "prod.example_corp-1"
    assert identity.namespace == "istio-system"
    assert identity.service_account == "istio.ingressgateway"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cluster.local/ns/default/sa/x", "is not a SPIFFE URI: expected spiffe://<trust domain>/ns/"),
        ("https://cluster.local/ns/default/sa/x", "is not a SPIFFE URI"),
        ("spiffe://cluster.local/ns/default", "is not in SPIFFE form"),
        ("spiffe://cluster.local/sa/x/ns/default", "is not in SPIFFE form"),
        ("spiffe://cluster.local/ns/default/sa/x/extra", "is not in SPIFFE form"),
        ("spiffe://cluster.local/ns//sa/x", "the namespace is empty"),
        ("spiffe://cluster.local/ns/default/sa/", "the service account is empty"),
        ("spiffe:///ns/default/sa/x", "the trust domain is empty"),
        ("spiffe://cluster.local/ns/Default/sa/x", "namespace 'Default' is not a valid Kubernetes namespace"),
        ("spiffe://cluster.local/ns/a.b/sa/x", "namespace 'a.b' is not a valid Kubernetes namespace"),
        ("spiffe://cluster.local/ns/default/sa/-x", "service account '-x' is not a valid Kubernetes name"),
        ("spiffe://cluster.local/ns/default/sa/*", "service account '*' is not a valid Kubernetes name"),
        ("spiffe://Cluster.Local/ns/default/sa/x", "trust domain 'Cluster.Local' is not valid"),
        ("spiffe://cluster.local:8080/ns/default/sa/x", "trust domain 'cluster.local:8080' is not valid"),
    ],
)
def test_refuses_what_is_not_an_istio_identity(text: str, expected: str) -> None:
    with pytest.raises(IdentityError) as raised:
        Identity.parse(text)

    assert expected in str(raised.value)
    assert repr(text) in str(raised.value)


def test_a_principal_must_not_carry_the_scheme() -> None:
    with pytest.raises(IdentityError, match="principals are written without it"):
        Identity.parse_principal("spiffe://cluster.local/ns/default/sa/x")


def test_the_namespace_length_limit_is_kubernetes() -> None:
    Identity("cluster.local", "n" * 63, "sa")
    with pytest.raises(IdentityError, match="at most 63"):
        Identity("cluster.local", "n" * 64, "sa")


def test_identities_sort_and_hash_as_values() -> None:
    first = Identity.parse("spiffe://cluster.local/ns/a/sa/x")
    second = Identity.parse("spiffe://cluster.local/ns/b/sa/x")

    assert sorted([second, first]) == [first, second]
    assert len({first, Identity.parse(first.uri)}) == 1
