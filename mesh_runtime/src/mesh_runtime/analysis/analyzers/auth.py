"""auth.*: Istio's AuthorizationPolicy analyzer."""

from __future__ import annotations

from collections.abc import Mapping

from ...resources import Resource
from ...resources.fields import mapping, sequence
from ...resources.kinds import AUTHORIZATION_POLICY, NAMESPACE, POD
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .base import analyzer, field_path, selector_matches, selector_text
from .workloads import as_str_map, pod_in_ambient_mode, pod_in_mesh

NO_MATCHING_WORKLOADS_FOUND = by_name("NoMatchingWorkloadsFound")
REFERENCED_RESOURCE_NOT_FOUND = by_name("ReferencedResourceNotFound")

#: Namespace → the labels of its pods the policies can act on (sidecar or ambient).
PodLabels = dict[str, list[Mapping[str, str]]]


@analyzer(
    "auth.AuthorizationPoliciesAnalyzer",
    "Checks the validity of authorization policies",
    (AUTHORIZATION_POLICY, NAMESPACE, POD),
)
def authorization_policies(context: AnalysisContext) -> None:
    pod_labels = _mesh_pod_labels(context)
    namespaces = [namespace.name for namespace in context.each(NAMESPACE)]
    for policy in context.each(AUTHORIZATION_POLICY):
        _check_workloads(context, policy, pod_labels)
        _check_namespaces(context, policy, namespaces)


def _mesh_pod_labels(context: AnalysisContext) -> PodLabels:
    labels: PodLabels = {}
    for pod in context.each(POD):
        found = labels.setdefault(pod.namespace, [])
        if pod_in_mesh(context, pod) or pod_in_ambient_mode(pod):
            found.append(pod.labels)
    return labels


def _check_workloads(context: AnalysisContext, policy: Resource, pod_labels: PodLabels) -> None:
    """A policy must act on some workload: in the root namespace, anywhere; elsewhere, in its namespace."""
    selector = policy.spec.get("selector")
    match_labels = as_str_map(mapping(selector).get("matchLabels"))
    if policy.namespace == context.mesh_config.root_namespace:
        if selector is None:
            return  # a mesh-wide policy for every workload
        candidates = [labels for in_namespace in pod_labels.values() for labels in in_namespace]
    elif selector is None:
        if not pod_labels.get(policy.namespace):
            context.report(NO_MATCHING_WORKLOADS_FOUND(policy, ""))
        return
    else:
        candidates = pod_labels.get(policy.namespace, [])
    if not any(selector_matches(match_labels, labels) for labels in candidates):
        context.report(NO_MATCHING_WORKLOADS_FOUND(policy, selector_text(match_labels)))


def _check_namespaces(context: AnalysisContext, policy: Resource, namespaces: list[str]) -> None:
    """Every `namespaces`/`notNamespaces` pattern of a rule's sources must match an existing Namespace."""
    for i, rule in enumerate(sequence(policy.spec.get("rules"))):
        for j, source_entry in enumerate(sequence(mapping(rule).get("from"))):
            source = mapping(mapping(source_entry).get("source"))
            for field in ("namespaces", "notNamespaces"):
                for k, pattern in enumerate(sequence(source.get(field))):
                    if isinstance(pattern, str) and not any(
                        namespace_matches(ns, pattern) for ns in namespaces
                    ):
                        # Istio points at `namespaces[k]` for notNamespaces entries too.
                        line = field_path("spec", "rules", i, "from", j, "source", "namespaces", k)
                        context.report(
                            REFERENCED_RESOURCE_NOT_FOUND(policy, "namespace", pattern, field_path=line)
                        )


def namespace_matches(namespace: str, pattern: str) -> bool:
    """Whether a namespace name matches a source pattern: `*`, `*suffix`, `prefix*` or a name (any case)."""
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return namespace.endswith(pattern[1:])
    if pattern.endswith("*"):
        return namespace.startswith(pattern[:-1])
    return namespace.lower() == pattern.lower()
