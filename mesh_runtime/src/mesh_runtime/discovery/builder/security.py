"""Inbound security: the effective PeerAuthentication of a workload, and the AuthorizationPolicies that
select it, flattened for the proxy.

PeerAuthentication precedence is Istio's: a policy with a workload selector over the namespace's policy over
the mesh's (the root namespace's, without a selector); the oldest policy wins among equals; `UNSET` inherits
from the level above; port-level modes (keyed by the workload's port) override the workload's mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product
from typing import Any, Literal

from ...resources import Resource
from ...resources import fields as f
from ...resources import kinds as k
from ...xds import AuthorizationPolicy, PeerAuthentication, PolicyRule
from ..snapshot import Snapshot

MtlsMode = Literal["STRICT", "PERMISSIVE", "DISABLE"]
_MODES: tuple[MtlsMode, ...] = ("STRICT", "PERMISSIVE", "DISABLE")
DRY_RUN_ANNOTATION = "istio.io/dry-run"


def peer_authentication(snapshot: Snapshot, namespace: str, labels: Mapping[str, str]) -> PeerAuthentication:
    """The mTLS mode for a workload in `namespace` with `labels`, with its port-level modes."""
    root = snapshot.settings.root_namespace
    mesh_policy: Resource | None = None
    namespace_policy: Resource | None = None
    workload_policy: Resource | None = None
    for policy in snapshot.of_kind(k.PEER_AUTHENTICATION):  # oldest first: keep the first found
        selector = _selector(policy)
        if policy.namespace == root and not selector and mesh_policy is None:
            mesh_policy = policy
        if policy.namespace != namespace:
            continue
        if not selector and namespace_policy is None:
            namespace_policy = policy
        elif selector and workload_policy is None and f.labels_match(selector, labels):
            workload_policy = policy
    mode: MtlsMode = "PERMISSIVE"
    for level in (mesh_policy, namespace_policy, workload_policy):
        if level is not None:
            mode = _mode(f.mapping(level.spec.get("mtls")).get("mode")) or mode
    port_modes: dict[int, MtlsMode] = {}
    if workload_policy is not None:
        for port, setting in f.mapping(workload_policy.spec.get("portLevelMtls")).items():
            number = f.integer(port)
            if number is not None:
                port_modes[number] = _mode(f.mapping(setting).get("mode")) or mode
    return PeerAuthentication(mode=mode, port_modes=port_modes)


def mode_for_port(policy: PeerAuthentication, port: int) -> MtlsMode:
    return policy.port_modes.get(port, policy.mode)


def for_port(policy: PeerAuthentication, port: int) -> PeerAuthentication:
    """The policy as one inbound listener (serving `port`) applies it: its own mode resolved."""
    return PeerAuthentication(mode=mode_for_port(policy, port), port_modes=policy.port_modes)


def _selector(policy: Resource) -> dict[str, str]:
    return f.string_map(f.mapping(policy.spec.get("selector")).get("matchLabels"))


def _mode(value: Any) -> MtlsMode | None:
    return next((mode for mode in _MODES if mode == value), None)


# -- authorization ----------------------------------------------------------------------------------------


def authorization_policies(
    snapshot: Snapshot, namespace: str, labels: Mapping[str, str]
) -> tuple[AuthorizationPolicy, ...]:
    """Every enforced AuthorizationPolicy selecting a workload in `namespace` with `labels`."""
    root = snapshot.settings.root_namespace
    selected: list[AuthorizationPolicy] = []
    for policy in snapshot.of_kind(k.AUTHORIZATION_POLICY):
        if policy.namespace not in (namespace, root) or not _selects(policy, labels):
            continue
        if policy.annotations.get(DRY_RUN_ANNOTATION, "").lower() in ("true", "t", "1"):
            continue  # dry-run policies are evaluated for logs only, never enforced
        translated = authorization_policy(policy)
        if translated is not None:
            selected.append(translated)
    return tuple(selected)


def _selects(policy: Resource, labels: Mapping[str, str]) -> bool:
    spec = policy.spec
    if f.sequence(spec.get("targetRefs")) or f.mapping(spec.get("targetRef")):
        return False  # targetRefs select Gateway API gateways and waypoints, which meshlab does not run
    return f.labels_match(_selector(policy), labels)


def authorization_policy(policy: Resource) -> AuthorizationPolicy | None:
    """One policy, its rules flattened; None for CUSTOM policies (no external authorizer here)."""
    action = f.text(policy.spec.get("action"), "ALLOW")
    if action not in ("ALLOW", "DENY", "AUDIT"):
        return None
    rules = tuple(flatten_rule(rule) for rule in f.mappings(policy.spec.get("rules")))
    return AuthorizationPolicy(policy.full_name, action, rules)  # type: ignore[arg-type]


def flatten_rule(rule: Mapping[str, Any]) -> tuple[PolicyRule, ...]:
    """A rule matches when one `from` and one `to` match and every `when` holds: the cross product of
    sources and operations, each with every condition. Always at least one PolicyRule (an empty rule
    matches everything)."""
    sources = [f.mapping(entry.get("source")) for entry in f.mappings(rule.get("from"))] or [{}]
    operations = [f.mapping(entry.get("operation")) for entry in f.mappings(rule.get("to"))] or [{}]
    conditions = tuple(
        (f.text(c.get("key")), f.strings(c.get("values")), f.strings(c.get("notValues")))
        for c in f.mappings(rule.get("when"))
        if f.text(c.get("key"))
    )
    return tuple(
        _policy_rule(source, operation, conditions) for source, operation in product(sources, operations)
    )


def _policy_rule(
    source: Mapping[str, Any],
    operation: Mapping[str, Any],
    conditions: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...],
) -> PolicyRule:
    extra: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    # Source fields without a PolicyRule field of their own become conditions, with Istio's keys.
    for field_name, key, rewrite in (
        ("requestPrincipals", "request.auth.principal", None),
        ("remoteIpBlocks", "remote.ip", None),
        ("serviceAccounts", "source.principal", _service_account_principal),
        ("trustDomains", "source.principal", _trust_domain_principal),
    ):
        values = f.strings(source.get(field_name))
        not_values = f.strings(source.get("not" + field_name[0].upper() + field_name[1:]))
        if rewrite is not None:
            values = tuple(rewrite(v) for v in values)
            not_values = tuple(rewrite(v) for v in not_values)
        if values or not_values:
            extra.append((key, values, not_values))
    return PolicyRule(
        principals=f.strings(source.get("principals")),
        not_principals=f.strings(source.get("notPrincipals")),
        namespaces=f.strings(source.get("namespaces")),
        not_namespaces=f.strings(source.get("notNamespaces")),
        ip_blocks=f.strings(source.get("ipBlocks")),
        not_ip_blocks=f.strings(source.get("notIpBlocks")),
        hosts=f.strings(operation.get("hosts")),
        not_hosts=f.strings(operation.get("notHosts")),
        methods=f.strings(operation.get("methods")),
        not_methods=f.strings(operation.get("notMethods")),
        paths=f.strings(operation.get("paths")),
        not_paths=f.strings(operation.get("notPaths")),
        ports=_ports(operation.get("ports")),
        not_ports=_ports(operation.get("notPorts")),
        conditions=conditions + tuple(extra),
    )


def _ports(value: Any) -> tuple[int, ...]:
    return tuple(p for p in (f.integer(v) for v in f.sequence(value)) if p is not None)


def _service_account_principal(value: str) -> str:
    """`ns/sa` → a principal pattern for that service account in any trust domain."""
    namespace, _, service_account = value.partition("/")
    return f"*/ns/{namespace}/sa/{service_account}"


def _trust_domain_principal(value: str) -> str:
    return f"{value}/*"
