"""annotations.*: Istio's analyzer of Istio annotations on Kubernetes objects."""

from __future__ import annotations

from ...resources import Resource
from ...resources.kinds import DEPLOYMENT, NAMESPACE, POD, SERVICE
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .annotation_catalogue import ANY, lookup
from .annotation_values import invalid_reason
from .base import analyzer, field_path

UNKNOWN_ANNOTATION = by_name("UnknownAnnotation")
DEPRECATED_ANNOTATION = by_name("DeprecatedAnnotation")
MISPLACED_ANNOTATION = by_name("MisplacedAnnotation")
INVALID_ANNOTATION = by_name("InvalidAnnotation")

#: The one annotation outside Istio's domains that Istio documents.
INGRESS_CLASS = "kubernetes.io/ingress.class"
SIDECAR_INJECT = "sidecar.istio.io/inject"
#: Set by Istio itself (injector, gateway controller, revision tagging), never by the user: not checked.
SET_BY_ISTIO = frozenset({"sidecar.istio.io/status", "gateway.istio.io/controller-version", "istio.io/rev"})
#: What a deprecation message adds for annotations that have a replacement.
REPLACEMENTS = {SIDECAR_INJECT: ' in favor of the "sidecar.istio.io/inject" label'}


@analyzer(
    "annotations.K8sAnalyzer",
    "Checks for misplaced and invalid Istio annotations in Kubernetes resources",
    (NAMESPACE, SERVICE, POD, DEPLOYMENT),
)
def k8s_annotations(context: AnalysisContext) -> None:
    for kind in (NAMESPACE, SERVICE, POD, DEPLOYMENT):
        for resource in context.each(kind):
            for name, value in resource.annotations.items():
                if is_istio_annotation(name) and name not in SET_BY_ISTIO:
                    _check_annotation(context, resource, name, value)


def is_istio_annotation(name: str) -> bool:
    """Whether an annotation is Istio's: its prefix (before any `/`) ends in `istio.io`."""
    return name == INGRESS_CLASS or name.split("/", 1)[0].endswith("istio.io")


def _check_annotation(context: AnalysisContext, resource: Resource, name: str, value: str) -> None:
    line = field_path("metadata", "annotations", name)
    spec = lookup(name)
    if spec is None:
        context.report(UNKNOWN_ANNOTATION(resource, name, field_path=line))
        return
    # Someone who also set the replacement label knows; keeping both is for older Istio versions.
    if spec.deprecated and not (name == SIDECAR_INJECT and SIDECAR_INJECT in resource.labels):
        context.report(DEPRECATED_ANNOTATION(resource, name, REPLACEMENTS.get(name, ""), field_path=line))
    if ANY in spec.resources:
        return
    if resource.kind.kind not in spec.resources:
        context.report(MISPLACED_ANNOTATION(resource, name, ", ".join(spec.resources), field_path=line))
        return
    reason = invalid_reason(name, value)
    if reason is not None:
        context.report(INVALID_ANNOTATION(resource, name, reason, field_path=line))
