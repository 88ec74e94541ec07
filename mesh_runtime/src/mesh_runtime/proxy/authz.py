"""AuthorizationPolicy enforcement (Envoy's RBAC filter as Istio configures it), compiled once per config.

Istio's order: CUSTOM (not pushed here) → DENY (any match denies) → ALLOW (when any ALLOW policy applies,
the request must match one) → AUDIT (logged only). Values keep Istio's syntax: `*` alone matches any
non-empty value, `abc*` a prefix, `*abc` a suffix; principals are `<trust domain>/ns/<ns>/sa/<sa>`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from mesh_runtime import xds

log = logging.getLogger("mesh_runtime.proxy.authz")

_SPIFFE = "spiffe://"


class AuthzRequest(Protocol):
    """What a policy looks at; the downstream protocol provides it."""

    @property
    def source_principal(self) -> str: ...  # `cluster.local/ns/x/sa/y`, "" without mTLS

    @property
    def source_ip(self) -> str: ...

    @property
    def request_method(self) -> str: ...

    @property
    def request_path(self) -> str: ...  # without the query string

    @property
    def request_host(self) -> str: ...

    @property
    def destination_port(self) -> int: ...

    def request_header(self, name: str) -> str | None: ...


Predicate = Callable[[AuthzRequest], bool]


def principal_of(identity: str) -> str:
    """A peer's SPIFFE URI as an Istio principal (`spiffe://` dropped)."""
    return identity[len(_SPIFFE) :] if identity.startswith(_SPIFFE) else identity


def namespace_of(principal: str) -> str:
    parts = principal.split("/")
    for index in range(len(parts) - 1):
        if parts[index] == "ns":
            return parts[index + 1]
    return ""


def string_matcher(pattern: str, ignore_case: bool = False) -> Callable[[str], bool]:
    """Istio's string form: exact, `*` (any non-empty), `prefix*` or `*suffix`."""
    if ignore_case:
        pattern = pattern.lower()
        inner = string_matcher(pattern)
        return lambda value: inner(value.lower())
    if pattern == "*":
        return lambda value: value != ""
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return lambda value: value.startswith(prefix)
    if pattern.startswith("*"):
        suffix = pattern[1:]
        return lambda value: value.endswith(suffix)
    return lambda value: value == pattern


def _any_of(patterns: Sequence[str], ignore_case: bool = False) -> Callable[[str], bool]:
    matchers = [string_matcher(pattern, ignore_case) for pattern in patterns]
    return lambda value: any(match(value) for match in matchers)


def _ip_matcher(blocks: Sequence[str]) -> Callable[[str], bool]:
    networks = [ipaddress.ip_network(block, strict=False) for block in blocks]

    def matches(value: str) -> bool:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return any(address.version == net.version and address in net for net in networks)

    return matches


def _host_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Hosts compare without case, with or without the port."""
    match = _any_of(patterns, ignore_case=True)

    def matches(value: str) -> bool:
        if match(value):
            return True
        host, colon, port = value.rpartition(":")
        return bool(colon) and port.isdigit() and match(host)

    return matches


def _field(
    values: Sequence[str],
    not_values: Sequence[str],
    read: Callable[[AuthzRequest], str],
    build: Callable[[Sequence[str]], Callable[[str], bool]],
) -> Predicate | None:
    """`values` (any must match) and `not_values` (none may match) over one request attribute."""
    if not values and not not_values:
        return None
    positive = build(values) if values else None
    negative = build(not_values) if not_values else None

    def check(request: AuthzRequest) -> bool:
        value = read(request)
        if positive is not None and not positive(value):
            return False
        return negative is None or not negative(value)

    return check


def _header_reader(name: str) -> Callable[[AuthzRequest], str]:
    lowered = name.lower()
    return lambda request: request.request_header(lowered) or ""


def _condition_reader(key: str) -> tuple[Callable[[AuthzRequest], str], bool] | None:
    """How to read a `when` key, and whether its values are CIDRs; None for keys that never match here."""
    if key.startswith("request.headers[") and key.endswith("]"):
        return _header_reader(key[len("request.headers[") : -1]), False
    readers: dict[str, tuple[Callable[[AuthzRequest], str], bool]] = {
        "source.principal": (lambda r: r.source_principal, False),
        "source.namespace": (lambda r: namespace_of(r.source_principal), False),
        "source.ip": (lambda r: r.source_ip, True),
        "remote.ip": (lambda r: r.source_ip, True),
        "destination.port": (lambda r: str(r.destination_port), False),
        "request.method": (lambda r: r.request_method, False),
        "request.path": (lambda r: r.request_path, False),
        "request.host": (lambda r: r.request_host, False),
    }
    return readers.get(key)


def _condition(key: str, values: Sequence[str], not_values: Sequence[str]) -> Predicate:
    reader = _condition_reader(key)
    if reader is None:
        # request.auth.* (no JWT here), connection.sni, experimental keys: the attribute is absent, so
        # positive values never match and negative ones always hold.
        return (lambda _request: False) if values else (lambda _request: True)
    read, cidr = reader
    build = _ip_matcher if cidr else _any_of
    check = _field(values, not_values, read, build)
    return check if check is not None else (lambda _request: True)


def compile_rule(rule: xds.PolicyRule) -> Predicate:
    """Every non-empty field of the rule must hold."""
    checks = [
        _field(rule.principals, rule.not_principals, lambda r: r.source_principal, _any_of),
        _field(rule.namespaces, rule.not_namespaces, lambda r: namespace_of(r.source_principal), _any_of),
        _field(rule.ip_blocks, rule.not_ip_blocks, lambda r: r.source_ip, _ip_matcher),
        _field(rule.hosts, rule.not_hosts, lambda r: r.request_host, _host_matcher),
        _field(rule.methods, rule.not_methods, lambda r: r.request_method, _any_of),
        _field(rule.paths, rule.not_paths, lambda r: r.request_path, _any_of),
        _field(
            [str(p) for p in rule.ports],
            [str(p) for p in rule.not_ports],
            lambda r: str(r.destination_port),
            _any_of,
        ),
    ]
    checks += [_condition(key, values, not_values) for key, values, not_values in rule.conditions]
    active = [check for check in checks if check is not None]
    return lambda request: all(check(request) for check in active)


def compile_policy(policy: xds.AuthorizationPolicy) -> Predicate:
    """A policy matches when any of its rules does (a rule: any of its flattened from × to forms)."""
    rules = [compile_rule(form) for rule in policy.rules for form in rule]
    return lambda request: any(rule(request) for rule in rules)


class Authorizer:
    """The compiled policies of one proxy."""

    __slots__ = ("deny", "allow", "audit")

    def __init__(self, policies: Sequence[xds.AuthorizationPolicy]) -> None:
        self.deny = [(p.name, compile_policy(p)) for p in policies if p.action == "DENY"]
        self.allow = [(p.name, compile_policy(p)) for p in policies if p.action == "ALLOW"]
        self.audit = [(p.name, compile_policy(p)) for p in policies if p.action == "AUDIT"]

    def allowed(self, request: AuthzRequest) -> bool:
        for name, matches in self.audit:
            if matches(request):
                log.info("audit: request matched AuthorizationPolicy %s", name)
        for _name, matches in self.deny:
            if matches(request):
                return False
        if not self.allow:
            return True
        return any(matches(request) for _name, matches in self.allow)


def compile_authorizer(policies: Sequence[xds.AuthorizationPolicy]) -> Authorizer | None:
    """None when no policy applies (the request path then skips authorization entirely)."""
    return Authorizer(policies) if policies else None
