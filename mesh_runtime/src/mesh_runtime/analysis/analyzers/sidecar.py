"""sidecar.*: Istio's Sidecar analyzers."""

from __future__ import annotations

from ...resources import Resource
from ...resources.fields import mapping
from ...resources.kinds import NAMESPACE, POD, SIDECAR
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .base import analyzer, field_path, selector_matches, selector_text
from .workloads import as_str_map, namespace_in_ambient_mode, pod_in_ambient_mode

REFERENCED_RESOURCE_NOT_FOUND = by_name("ReferencedResourceNotFound")
CONFLICTING_SIDECAR_WORKLOAD_SELECTORS = by_name("ConflictingSidecarWorkloadSelectors")
MULTIPLE_SIDECARS_WITHOUT_WORKLOAD_SELECTORS = by_name("MultipleSidecarsWithoutWorkloadSelectors")
INEFFECTIVE_POLICY = by_name("IneffectivePolicy")

AMBIENT_WORKLOAD = "selected workload is in ambient mode, the policy has no impact"
AMBIENT_NAMESPACE = "namespace is in ambient mode, the policy has no impact"


@analyzer(
    "sidecar.SelectorAnalyzer",
    "Validates that sidecars that define a workload selector match at least one pod, and that there aren't "
    "multiple sidecar resources that select overlapping pods",
    (SIDECAR, POD, NAMESPACE),
)
def selector(context: AnalysisContext) -> None:
    # Pods (by ns/name) and the Sidecars selecting each; namespaces and their selector-less Sidecars.
    sidecars_by_pod: dict[str, list[Resource]] = {}
    pods: dict[str, Resource] = {}
    sidecars_by_namespace: dict[str, list[Resource]] = {}
    for sidecar in context.each(SIDECAR):
        labels = workload_selector(sidecar)
        if not labels:
            sidecars_by_namespace.setdefault(sidecar.namespace, []).append(sidecar)
            continue
        selected = [
            p
            for p in context.each(POD)
            if p.namespace == sidecar.namespace and selector_matches(labels, p.labels)
        ]
        for pod in selected:
            pods[pod.full_name] = pod
            sidecars_by_pod.setdefault(pod.full_name, []).append(sidecar)
        if not selected:
            first_label = sorted(labels)[0]
            context.report(
                REFERENCED_RESOURCE_NOT_FOUND(
                    sidecar,
                    "selector",
                    selector_text(labels),
                    field_path=field_path("spec", "workloadSelector", "labels", first_label),
                )
            )
    reported: set[str] = set()
    for pod_name, sidecars in sidecars_by_pod.items():
        _check_pod(context, pods[pod_name], sidecars, reported)
    for namespace, sidecars in sidecars_by_namespace.items():
        _check_namespace(context, namespace, sidecars, reported)


def workload_selector(sidecar: Resource) -> dict[str, str]:
    """A Sidecar's `workloadSelector.labels` (empty when it applies to its whole namespace)."""
    return as_str_map(mapping(sidecar.spec.get("workloadSelector")).get("labels"))


def _check_pod(context: AnalysisContext, pod: Resource, sidecars: list[Resource], reported: set[str]) -> None:
    """Sidecars selecting an ambient pod have no effect; several selecting one pod conflict."""
    if pod_in_ambient_mode(pod):
        for sidecar in sidecars:
            _report_ineffective(context, sidecar, AMBIENT_WORKLOAD, reported)
        return
    if len(sidecars) < 2:
        return
    names = [s.name for s in sidecars]
    for sidecar in sidecars:
        context.report(
            CONFLICTING_SIDECAR_WORKLOAD_SELECTORS(
                sidecar, names, pod.namespace, pod.name, field_path=field_path("metadata", "name")
            )
        )


def _check_namespace(
    context: AnalysisContext, namespace: str, sidecars: list[Resource], reported: set[str]
) -> None:
    """Namespace-wide Sidecars have no effect in an ambient namespace; several in one namespace conflict."""
    if namespace_in_ambient_mode(context.find(NAMESPACE, "", namespace)):
        for sidecar in sidecars:
            _report_ineffective(context, sidecar, AMBIENT_NAMESPACE, reported)
        return
    if len(sidecars) < 2:
        return
    names = [s.name for s in sidecars]
    for sidecar in sidecars:
        context.report(MULTIPLE_SIDECARS_WITHOUT_WORKLOAD_SELECTORS(sidecar, names, namespace))


def _report_ineffective(context: AnalysisContext, sidecar: Resource, reason: str, reported: set[str]) -> None:
    if sidecar.full_name not in reported:
        reported.add(sidecar.full_name)
        context.report(INEFFECTIVE_POLICY(sidecar, reason))
