"""AuthorizationPolicy semantics: Istio's evaluation order and its matching forms, on a plain request."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mesh_runtime import xds
from mesh_runtime.proxy.authz import compile_authorizer, namespace_of, principal_of, string_matcher

PRODUCTPAGE = "cluster.local/ns/default/sa/bookinfo-productpage"
DETAILS = "cluster.local/ns/default/sa/bookinfo-details"


@dataclass
class Request:
    source_principal: str = PRODUCTPAGE
    source_ip: str = "10.0.0.5"
    request_method: str = "GET"
    request_path: str = "/reviews/0"
    request_host: str = "reviews:9080"
    destination_port: int = 9080
    headers: dict[str, str] = field(default_factory=dict)

    def request_header(self, name: str) -> str | None:
        return self.headers.get(name)


def policy(action: str = "ALLOW", *rules: xds.PolicyRule, name: str = "default/p") -> xds.AuthorizationPolicy:
    return xds.AuthorizationPolicy(name, action, tuple((rule,) for rule in rules))  # type: ignore[arg-type]


def allowed(request: Request, *policies: xds.AuthorizationPolicy) -> bool:
    authorizer = compile_authorizer(policies)
    return True if authorizer is None else authorizer.allowed(request)


def test_no_policy_allows_and_compiles_to_nothing() -> None:
    assert compile_authorizer(()) is None
    assert allowed(Request())


def test_allow_policy_admits_only_what_it_matches() -> None:
    only_productpage = policy("ALLOW", xds.PolicyRule(principals=(PRODUCTPAGE,), methods=("GET",)))
    assert allowed(Request(), only_productpage)
    assert not allowed(Request(source_principal=DETAILS), only_productpage)
    assert not allowed(Request(request_method="POST"), only_productpage)
    assert not allowed(Request(source_principal=""), only_productpage)


def test_allow_without_rules_denies_everything_and_an_empty_rule_allows_everything() -> None:
    assert not allowed(Request(), xds.AuthorizationPolicy("default/deny-all", "ALLOW", ()))
    assert allowed(Request(source_principal=""), policy("ALLOW", xds.PolicyRule()))


def test_deny_wins_over_allow() -> None:
    allow_all = policy("ALLOW", xds.PolicyRule())
    deny_post = policy("DENY", xds.PolicyRule(methods=("POST",)), name="default/deny")
    assert allowed(Request(), allow_all, deny_post)
    assert not allowed(Request(request_method="POST"), allow_all, deny_post)


def test_any_allow_policy_is_enough() -> None:
    first = policy("ALLOW", xds.PolicyRule(paths=("/health",)))
    second = policy("ALLOW", xds.PolicyRule(namespaces=("default",)), name="default/second")
    assert allowed(Request(), first, second)
    assert not allowed(Request(source_principal="cluster.local/ns/other/sa/x"), first, second)


def test_audit_never_decides() -> None:
    assert allowed(Request(), policy("AUDIT", xds.PolicyRule()))


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "anything", True),
        ("*", "", False),
        ("/api/*", "/api/v1", True),
        ("/api/*", "/apx", False),
        ("*/sa/bookinfo-productpage", PRODUCTPAGE, True),
        ("*.example.com", "www.example.com", True),
        ("exact", "exact", True),
        ("exact", "exactly", False),
    ],
)
def test_istio_string_forms(pattern: str, value: str, expected: bool) -> None:
    assert string_matcher(pattern)(value) is expected


def test_not_fields_exclude() -> None:
    rule = xds.PolicyRule(not_paths=("/admin*",), not_methods=("DELETE",))
    deny = policy("DENY", xds.PolicyRule(not_principals=(PRODUCTPAGE,)))
    allow = policy("ALLOW", rule, name="default/allow")
    assert allowed(Request(), allow, deny)
    assert not allowed(Request(request_path="/admin/x"), allow, deny)
    assert not allowed(Request(request_method="DELETE"), allow, deny)
    assert not allowed(Request(source_principal=DETAILS), allow, deny)


def test_ip_blocks_ports_and_hosts() -> None:
    rule = xds.PolicyRule(ip_blocks=("10.0.0.0/24",), ports=(9080,), hosts=("REVIEWS",))
    only = policy("ALLOW", rule)
    assert allowed(Request(), only)  # the host matches without its port, case-insensitively
    assert not allowed(Request(source_ip="10.0.1.5"), only)
    assert not allowed(Request(destination_port=9443), only)
    assert not allowed(Request(request_host="ratings"), only)


def test_when_conditions() -> None:
    rule = xds.PolicyRule(
        conditions=(
            ("request.headers[x-token]", ("secret",), ()),
            ("source.namespace", ("default",), ()),
            ("source.ip", (), ("10.9.0.0/16",)),
        )
    )
    only = policy("ALLOW", rule)
    assert allowed(Request(headers={"x-token": "secret"}), only)
    assert not allowed(Request(headers={"x-token": "other"}), only)
    assert not allowed(Request(), only)
    assert not allowed(Request(headers={"x-token": "secret"}, source_ip="10.9.1.1"), only)


def test_unknown_condition_keys_never_match_their_values() -> None:
    needs_jwt = policy("ALLOW", xds.PolicyRule(conditions=(("request.auth.claims[iss]", ("me",), ()),)))
    assert not allowed(Request(), needs_jwt)


def test_a_rule_matches_when_any_of_its_flattened_forms_does() -> None:
    forms = (xds.PolicyRule(methods=("POST",)), xds.PolicyRule(methods=("GET",)))
    assert allowed(Request(), xds.AuthorizationPolicy("default/p", "ALLOW", (forms,)))


def test_principal_helpers() -> None:
    assert principal_of("spiffe://" + PRODUCTPAGE) == PRODUCTPAGE
    assert namespace_of(PRODUCTPAGE) == "default"
    assert namespace_of("") == ""
