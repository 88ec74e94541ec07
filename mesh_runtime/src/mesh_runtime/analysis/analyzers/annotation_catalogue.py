"""Istio's annotation catalogue: every annotation Istio defines, where it may be set, and its status.

The facts (names, resource kinds, maturity, deprecation) are those of Istio's annotation reference
(istio/api `annotation/annotations.yaml`, for the release in `mesh_runtime.ISTIO_API_VERSION`). Analyzers use
it to tell unknown, misplaced and deprecated annotations apart. An annotation the reference gives no maturity
is Alpha, as in Istio.
"""

from __future__ import annotations

from dataclasses import dataclass

ALPHA = "Alpha"
BETA = "Beta"
STABLE = "Stable"
#: In `resources`: the annotation may be set on any kind of object.
ANY = "Any"


@dataclass(frozen=True, slots=True)
class AnnotationSpec:
    name: str
    #: ALPHA, BETA or STABLE.
    feature_status: str
    deprecated: bool
    #: The kinds of object it belongs on (`Pod`, `Service`, …), or ANY.
    resources: tuple[str, ...]


# (name, feature status, deprecated, resource kinds)
_ROWS: tuple[tuple[str, str, bool, tuple[str, ...]], ...] = (
    ("prometheus.istio.io/merge-metrics", ALPHA, False, ("Pod",)),
    ("alpha.istio.io/kubernetes-serviceaccounts", ALPHA, True, ("Service",)),
    ("alpha.istio.io/canonical-serviceaccounts", ALPHA, True, ("Service",)),
    ("networking.istio.io/exportTo", ALPHA, False, ("Service",)),
    ("sidecar.istio.io/inject", BETA, True, ("Pod",)),
    ("sidecar.istio.io/status", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/rewriteAppHTTPProbers", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/discoveryAddress", ALPHA, True, ("Pod",)),
    ("sidecar.istio.io/proxyImage", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/proxyImageType", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/proxyCPU", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/proxyCPULimit", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/proxyMemory", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/proxyMemoryLimit", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/interceptionMode", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/bootstrapOverride", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/statsInclusionPrefixes", ALPHA, True, ("Pod",)),
    ("sidecar.istio.io/statsInclusionSuffixes", ALPHA, True, ("Pod",)),
    ("sidecar.istio.io/statsInclusionRegexps", ALPHA, True, ("Pod",)),
    ("sidecar.istio.io/statsHistogramBuckets", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/statsFlushInterval", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/statsEvictionInterval", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/statsHistogramBins", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/userVolume", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/userVolumeMount", ALPHA, False, ("Pod",)),
    ("status.sidecar.istio.io/port", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/logLevel", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/componentLogLevel", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/agentLogLevel", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/nativeSidecar", ALPHA, False, ("Pod",)),
    ("readiness.status.sidecar.istio.io/initialDelaySeconds", ALPHA, False, ("Pod",)),
    ("readiness.status.sidecar.istio.io/periodSeconds", ALPHA, False, ("Pod",)),
    ("readiness.status.sidecar.istio.io/failureThreshold", ALPHA, False, ("Pod",)),
    ("readiness.status.sidecar.istio.io/applicationPorts", ALPHA, False, ("Pod",)),
    ("traffic.istio.io/nodeSelector", STABLE, False, ("Service",)),
    ("traffic.sidecar.istio.io/includeOutboundIPRanges", ALPHA, False, ("Pod",)),
    ("traffic.sidecar.istio.io/excludeOutboundIPRanges", ALPHA, False, ("Pod",)),
    ("traffic.sidecar.istio.io/includeInboundPorts", ALPHA, False, ("Pod",)),
    ("traffic.sidecar.istio.io/excludeInboundPorts", ALPHA, False, ("Pod",)),
    ("traffic.sidecar.istio.io/excludeInterfaces", ALPHA, False, ("Pod",)),
    ("traffic.sidecar.istio.io/includeOutboundPorts", ALPHA, False, ("Pod",)),
    ("traffic.sidecar.istio.io/excludeOutboundPorts", ALPHA, False, ("Pod",)),
    ("traffic.sidecar.istio.io/kubevirtInterfaces", ALPHA, True, ("Pod",)),
    ("kubernetes.io/ingress.class", STABLE, False, ("Ingress",)),
    ("galley.istio.io/analyze-suppress", ALPHA, False, ("Any",)),
    ("proxy.istio.io/config", BETA, False, ("Pod",)),
    ("istio.io/dry-run", ALPHA, False, ("AuthorizationPolicy",)),
    ("istio.io/rev", ALPHA, False, ("Pod",)),
    ("proxy.istio.io/overrides", ALPHA, False, ("Pod",)),
    ("inject.istio.io/templates", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/extraStatTags", ALPHA, True, ("Pod",)),
    ("istio.io/autoRegistrationGroup", ALPHA, False, ("WorkloadEntry",)),
    ("istio.io/workloadController", ALPHA, False, ("WorkloadEntry",)),
    ("istio.io/connectedAt", ALPHA, False, ("WorkloadEntry",)),
    ("istio.io/disconnectedAt", ALPHA, False, ("WorkloadEntry",)),
    ("topology.istio.io/controlPlaneClusters", ALPHA, False, ("Namespace",)),
    ("gateway.istio.io/controller-version", ALPHA, False, ("Any",)),
    ("ambient.istio.io/redirection", BETA, False, ("Pod",)),
    ("ambient.istio.io/waypoint-inbound-binding", ALPHA, False, ("GatewayClass", "Gateway")),
    ("gateway.istio.io/service-account", ALPHA, False, ("Gateway",)),
    ("gateway.istio.io/name-override", ALPHA, False, ("Gateway",)),
    ("networking.istio.io/service-type", ALPHA, False, ("Gateway",)),
    ("networking.istio.io/traffic-distribution", ALPHA, False, ("Namespace", "Service", "ServiceEntry")),
    ("istio.io/use-waypoint-canary-weight", ALPHA, False, ("Service", "ServiceEntry", "Namespace")),
    ("ambient.istio.io/bypass-inbound-capture", ALPHA, False, ("Pod",)),
    ("istio.io/reroute-virtual-interfaces", ALPHA, False, ("Pod",)),
    ("ambient.istio.io/dns-capture", ALPHA, False, ("Pod",)),
    ("sidecar.istio.io/statsCompression", ALPHA, True, ("Pod",)),
)

ANNOTATIONS: dict[str, AnnotationSpec] = {row[0]: AnnotationSpec(*row) for row in _ROWS}


def lookup(name: str) -> AnnotationSpec | None:
    """The catalogue entry for an annotation name (exact, case-sensitive), None when Istio defines none."""
    return ANNOTATIONS.get(name)
