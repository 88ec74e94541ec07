"""PeerAuthentication and AuthorizationPolicy (security.istio.io): schemas and Istio's checks of them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..resources.fields import indexed_strings, mapping, sequence, text
from . import formats
from .common import STRING, STRINGS, WORKLOAD_SELECTOR, check_each, is_set
from .dsl import Choice, ListOf, MapOf, Report, Text, record
from .findings import Path, quoted

MTLS_MODES = ("UNSET", "DISABLE", "PERMISSIVE", "STRICT")
ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")
#: What an AuthorizationPolicy targetRef may point at: (group, kind).
TARGET_KINDS = (
    ("", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
)

# ---- PeerAuthentication --------------------------------------------------------------------------

MTLS = record({"mode": Choice(MTLS_MODES)})


def _check_peer_authentication(spec: Mapping[str, Any], path: Path, report: Report) -> None:
    port_level = spec.get("portLevelMtls")
    labels = mapping(mapping(spec.get("selector")).get("matchLabels"))
    if isinstance(port_level, Mapping) and port_level and not labels:
        report.error(
            (*path, "portLevelMtls"),
            "portLevelMtls needs a selector with matchLabels: a mesh- or namespace-wide policy cannot set "
            "per-port modes",
        )


PEER_AUTHENTICATION = record(
    {
        "mtls": MTLS,
        "portLevelMtls": MapOf(MTLS, port_keys=True, min_properties=1),
        "selector": WORKLOAD_SELECTOR,
    },
    rules=(_check_peer_authentication,),
)

# ---- AuthorizationPolicy -------------------------------------------------------------------------

_GROUP = re.compile(r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)?\Z")
_KIND = re.compile(r"[a-zA-Z](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?\Z")
_UNSUPPORTED_PATH_TEMPLATE = re.compile(r"/\{\w+=\*[*]?\}|\{\w*\}|/\*[*]?|\*[*]?/")


def _group(value: str) -> str | None:
    return (
        None
        if _GROUP.match(value)
        else f"{quoted(value)} is not an API group (such as gateway.networking.k8s.io)"
    )


def _kind(value: str) -> str | None:
    return None if _KIND.match(value) else f"{quoted(value)} is not a kind (such as Service)"


def _check_target_ref(ref: Mapping[str, Any], path: Path, report: Report) -> None:
    if ref.get("namespace"):
        report.error((*path, "namespace"), "cross-namespace targetRef is not supported; remove namespace")
    group, kind = text(ref.get("group")), ref.get("kind")
    if isinstance(kind, str) and kind and (group, kind) not in TARGET_KINDS:
        allowed = ", ".join(f"{g or 'core'}/{k}" for g, k in TARGET_KINDS)
        report.error(path, f"targetRef must point at one of {allowed}, found {group or 'core'}/{kind}")


TARGET_REF = record(
    {
        "group": Text((_group,), max_length=253),
        "kind": Text((_kind,), min_length=1, max_length=63),
        "name": Text(min_length=1, max_length=253),
        "namespace": STRING,
    },
    required=("kind", "name"),
    rules=(_check_target_ref,),
)

_SOURCE_FIELDS = (
    "principals",
    "requestPrincipals",
    "namespaces",
    "ipBlocks",
    "remoteIpBlocks",
    "notPrincipals",
    "notRequestPrincipals",
    "notNamespaces",
    "notIpBlocks",
    "notRemoteIpBlocks",
)
_OPERATION_FIELDS = ("ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts")


def _check_source(source: Mapping[str, Any], path: Path, report: Report) -> None:
    if not any(
        sequence(source.get(name)) for name in (*_SOURCE_FIELDS, "serviceAccounts", "notServiceAccounts")
    ):
        report.error(path, f"a source must set at least one of {', '.join(_SOURCE_FIELDS)}")
    for name in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
        check_each(report, (*path, name), source.get(name), formats.ip_or_cidr)
    _check_no_empty_values(source, _SOURCE_FIELDS, path, report)
    accounts = [name for name in ("serviceAccounts", "notServiceAccounts") if is_set(source, name)]
    identities = [
        name
        for name in ("principals", "notPrincipals", "namespaces", "notNamespaces")
        if is_set(source, name)
    ]
    if accounts and identities:
        report.error(path, f"{' and '.join(accounts)} cannot be combined with {' or '.join(identities)}")


def _check_operation(operation: Mapping[str, Any], path: Path, report: Report) -> None:
    if not any(sequence(operation.get(name)) for name in _OPERATION_FIELDS):
        report.error(path, f"an operation must set at least one of {', '.join(_OPERATION_FIELDS)}")
    for name in ("ports", "notPorts"):
        check_each(report, (*path, name), operation.get(name), _non_empty(formats.port_text))
    _check_no_empty_values(operation, _OPERATION_FIELDS, path, report)
    for name in ("paths", "notPaths"):
        for index, value in indexed_strings(operation.get(name)):
            if ("{*}" in value or "{**}" in value) and _UNSUPPORTED_PATH_TEMPLATE.search(value):
                report.error(
                    (*path, name, index),
                    f"{quoted(value)} is not a supported path template: use {{*}} and {{**}} as whole "
                    "path segments, without named variables or bare * wildcards",
                )


def _non_empty(check: Any) -> Any:
    def wrapped(value: str) -> str | None:
        return None if value == "" else check(value)

    return wrapped


def _check_no_empty_values(
    section: Mapping[str, Any], names: tuple[str, ...], path: Path, report: Report
) -> None:
    for name in names:
        for index, value in indexed_strings(section.get(name)):
            if value == "":
                report.error((*path, name, index), "empty values are not allowed")


def _check_condition(condition: Mapping[str, Any], path: Path, report: Report) -> None:
    key = condition.get("key")
    if not isinstance(key, str):
        return
    if key == "":
        report.error(
            (*path, "key"), "a condition needs a key (such as request.headers[x-token] or source.ip)"
        )
        return
    if not sequence(condition.get("values")) and not sequence(condition.get("notValues")):
        report.error(path, f"set values or notValues for the condition on {key}")
        return
    for name in ("values", "notValues"):
        values = [value for _, value in indexed_strings(condition.get(name))]
        if not sequence(condition.get(name)):
            continue
        problem = attribute_problem(key, values)
        if problem:
            report.error((*path, name), problem)


def attribute_problem(key: str, values: list[str]) -> str | None:
    """Whether a `when` condition's key is an attribute Istio knows, and its values suit it."""
    if any(value == "" for value in values):
        return "empty values are not allowed"
    if key.startswith(("request.headers", "request.auth.claims", "experimental.envoy.filters.")):
        open_at = key.find("[")
        if key.endswith("]") and 0 < open_at < len(key) - 2:
            return None
        return f"key {quoted(key)} must have the form name[entry], such as request.headers[x-token]"
    if key in ("source.ip", "remote.ip", "destination.ip"):
        problems = [p for p in (formats.ip_or_cidr(v) for v in values) if p]
        return problems[0] if problems else None
    if key == "destination.port":
        problems = [p for p in (formats.port_text(v) for v in values) if p]
        return problems[0] if problems else None
    if key in (
        "source.namespace",
        "source.principal",
        "request.auth.principal",
        "request.auth.audiences",
        "request.auth.presenter",
        "connection.sni",
    ):
        return None
    if key == "destination.namespace":
        return "destination.namespace is not supported; the policy's own namespace decides"
    if key.startswith("destination.labels"):
        return "destination.labels is not supported; use the policy's selector"
    if key in ("destination.name", "destination.user"):
        return f"{key} is no longer supported"
    return f"unknown attribute {quoted(key)}"


RULE = record(
    {
        "from": ListOf(
            record(
                {
                    "source": record(
                        {
                            "ipBlocks": STRINGS,
                            "namespaces": STRINGS,
                            "notIpBlocks": STRINGS,
                            "notNamespaces": STRINGS,
                            "notPrincipals": STRINGS,
                            "notRemoteIpBlocks": STRINGS,
                            "notRequestPrincipals": STRINGS,
                            "notServiceAccounts": ListOf(Text(max_length=320), max_items=16),
                            "notTrustDomains": STRINGS,
                            "principals": STRINGS,
                            "remoteIpBlocks": STRINGS,
                            "requestPrincipals": STRINGS,
                            "serviceAccounts": ListOf(Text(max_length=320), max_items=16),
                            "trustDomains": STRINGS,
                        },
                        rules=(_check_source,),
                    )
                },
                required=("source",),
            ),
            max_items=512,
        ),
        "to": ListOf(
            record(
                {
                    "operation": record(
                        {name: STRINGS for name in sorted(_OPERATION_FIELDS)}, rules=(_check_operation,)
                    )
                },
                required=("operation",),
            )
        ),
        "when": ListOf(
            record(
                {"key": STRING, "notValues": STRINGS, "values": STRINGS},
                required=("key",),
                rules=(_check_condition,),
            )
        ),
    }
)

_CUSTOM_UNSUPPORTED_SOURCES = (
    "namespaces",
    "notNamespaces",
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
)


def _check_authorization_policy(spec: Mapping[str, Any], path: Path, report: Report) -> None:
    chosen = [name for name in ("selector", "targetRef", "targetRefs") if is_set(spec, name)]
    if len(chosen) > 1:
        report.error(path, f"set only one of selector, targetRef or targetRefs, found {' and '.join(chosen)}")
    action = text(spec.get("action")) or "ALLOW"
    rules = spec.get("rules")
    provider = spec.get("provider")
    if action == "CUSTOM":
        if rules is None:
            report.error(
                path,
                "a CUSTOM policy without rules never applies; "
                "add rules (an empty rule {} matches every request)",
            )
        elif not text(mapping(provider).get("name")):
            report.error(
                (*path, "provider", "name"),
                "a CUSTOM policy needs provider.name (an extension provider in the mesh config)",
            )
        _check_custom_rules(sequence(rules), path, report)
    elif provider is not None:
        report.error((*path, "provider"), f"provider is only used with action CUSTOM, found action {action}")
    if action == "DENY" and rules is None:
        report.error(
            path,
            "a DENY policy without rules never applies; add rules (an empty rule {} matches every request)",
        )
    for index, rule in enumerate(sequence(rules)):
        if isinstance(rule, Mapping):
            _check_rule(rule, (*path, "rules", index), action, report)


def _check_custom_rules(rules: Sequence[Any], path: Path, report: Report) -> None:
    for index, rule in enumerate(rules):
        rule = mapping(rule)
        for from_index, entry in enumerate(sequence(rule.get("from"))):
            source = mapping(mapping(entry).get("source"))
            for name in _CUSTOM_UNSUPPORTED_SOURCES:
                if sequence(source.get(name)):
                    report.error(
                        (*path, "rules", index, "from", from_index, "source", name),
                        f"{name} is not supported with action CUSTOM",
                    )
        for when_index, condition in enumerate(sequence(rule.get("when"))):
            key = text(mapping(condition).get("key"))
            if key in ("source.namespace", "source.principal") or key.startswith("request.auth."):
                report.error(
                    (*path, "rules", index, "when", when_index, "key"),
                    f"{key} is not supported with action CUSTOM",
                )


def _check_rule(rule: Mapping[str, Any], path: Path, action: str, report: Report) -> None:
    for section in ("from", "to"):
        if isinstance(rule.get(section), list) and not rule[section]:
            report.error(
                (*path, section), f"{section} must not be an empty list; remove it to match anything"
            )
    sources = [mapping(mapping(entry).get("source")) for entry in sequence(rule.get("from"))]
    operations = [mapping(mapping(entry).get("operation")) for entry in sequence(rule.get("to"))]
    sources = [source for source in sources if source]
    operations = [operation for operation in operations if operation]
    tcp_in_from = any(
        is_set(source, name)
        for source in sources
        for name in (
            "principals",
            "notPrincipals",
            "ipBlocks",
            "notIpBlocks",
            "namespaces",
            "notNamespaces",
            "remoteIpBlocks",
            "notRemoteIpBlocks",
        )
    )
    tcp_in_to = any(is_set(operation, name) for operation in operations for name in ("ports", "notPorts"))
    only_http = (sources and not operations and not tcp_in_from) or (operations and not tcp_in_to)
    if action == "DENY" and only_http:
        report.warning(
            path,
            "this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports in its scope; "
            "list the ports it should apply to",
        )


AUTHORIZATION_POLICY = record(
    {
        "action": Choice(ACTIONS),
        "provider": record({"name": STRING}),
        "rules": ListOf(RULE, max_items=512),
        "selector": WORKLOAD_SELECTOR,
        "targetRef": TARGET_REF,
        "targetRefs": ListOf(TARGET_REF, max_items=16),
    },
    rules=(_check_authorization_policy,),
)
