"""destinationrule.*: Istio's DestinationRule analyzers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...resources import Resource
from ...resources.fields import mapping, sequence, strings
from ...resources.kinds import DESTINATION_RULE, NODE, POD, SERVICE, SERVICE_ENTRY
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .base import analyzer, field_path, selector_matches
from .service_hosts import ServiceIndex

NO_VERIFICATION_DESTINATION_LEVEL = by_name("NoServerCertificateVerificationDestinationLevel")
NO_VERIFICATION_PORT_LEVEL = by_name("NoServerCertificateVerificationPortLevel")
SUBSET_SELECTS_NO_PODS = by_name("DestinationRuleSubsetNotSelectPods")
UNKNOWN_HOST = by_name("UnknownDestinationRuleHost")

#: ClientTLSSettings modes that verify the server with `caCertificates`, by name and by proto number.
_VERIFYING_MODES: dict[str | int, str] = {"SIMPLE": "SIMPLE", "MUTUAL": "MUTUAL", 1: "SIMPLE", 2: "MUTUAL"}
#: Node labels Istio copies onto a workload's labels, which subsets may select on.
TOPOLOGY_LABELS = (
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
)
HOSTNAME_LABEL = "kubernetes.io/hostname"


# --- destinationrule.CaCertificateAnalyzer --------------------------------------------------------------


@analyzer(
    "destinationrule.CaCertificateAnalyzer",
    "Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL",
    (DESTINATION_RULE,),
)
def ca_certificates(context: AnalysisContext) -> None:
    """IST0128/IST0129: TLS to the destination without `caCertificates`, so its identity goes unchecked.

    Not reported when `credentialName` is set on a DestinationRule with a `workloadSelector` (the secret
    then carries the CA). Subset-level traffic policies are not checked, as in Istio.
    """
    for rule in context.each(DESTINATION_RULE):
        host = _text(rule.spec.get("host"))
        has_selector = rule.spec.get("workloadSelector") is not None
        policy = mapping(rule.spec.get("trafficPolicy"))
        mode = _unverified_mode(mapping(policy.get("tls")), has_selector)
        if mode is not None:
            path = field_path("spec", "trafficPolicy", "tls", "caCertificates")
            context.report(
                NO_VERIFICATION_DESTINATION_LEVEL(
                    rule, rule.full_name, rule.namespace, mode, host, field_path=path
                )
            )
        for index, settings in enumerate(sequence(policy.get("portLevelSettings"))):
            settings = mapping(settings)
            mode = _unverified_mode(mapping(settings.get("tls")), has_selector)
            if mode is None:
                continue
            path = field_path("spec", "trafficPolicy", "portLevelSettings", index, "tls", "caCertificates")
            port = _port_selector_text(settings.get("port"))
            context.report(
                NO_VERIFICATION_PORT_LEVEL(
                    rule, rule.full_name, rule.namespace, mode, host, port, field_path=path
                )
            )


def _unverified_mode(tls: Mapping[str, Any], has_selector: bool) -> str | None:
    """The TLS mode's name if it verifies the server but no CA is given to verify it with, else None."""
    value = tls.get("mode")
    mode = _VERIFYING_MODES.get(value) if isinstance(value, (str, int)) else None
    if mode is None or _text(tls.get("caCertificates")):
        return None
    if _text(tls.get("credentialName")) and has_selector:
        return None
    return mode


def _port_selector_text(port: Any) -> str:
    """A PortSelector as istioctl prints it (protobuf text): `number:443`."""
    number = mapping(port).get("number")
    return f"number:{number}" if isinstance(number, int) and number else ""


# --- destinationrule.SubsetSelectPodAnalyzer ------------------------------------------------------------


@analyzer(
    "destinationrule.SubsetSelectPodAnalyzer",
    "Checks if pods are selected by subsets in destination rules.",
    (DESTINATION_RULE, POD, SERVICE, SERVICE_ENTRY, NODE),
)
def subset_select_pod(context: AnalysisContext) -> None:
    """IST0174 for a host no Service or ServiceEntry provides; else IST0173 for each subset selecting no Pod.

    A subset's labels (with a ServiceEntry's `workloadSelector`, never a Service's selector) are matched
    against every Pod in any namespace, its labels completed with its Node's topology, as Istio does.
    """
    index = ServiceIndex(context)
    pod_labels = [_workload_labels(context, pod) for pod in context.each(POD)]
    for rule in context.each(DESTINATION_RULE):
        host = _text(rule.spec.get("host"))
        target = index.lookup(rule.namespace, strings(rule.spec.get("exportTo")), host)
        if target is None:
            context.report(UNKNOWN_HOST(rule, host))
            continue
        for name, selector in _subset_selectors(rule, target.workload_selector).items():
            if not any(selector_matches(selector, labels) for labels in pod_labels):
                context.report(SUBSET_SELECTS_NO_PODS(rule, name))


def _subset_selectors(rule: Resource, workload_selector: Mapping[str, str]) -> dict[str, dict[str, str]]:
    selectors: dict[str, dict[str, str]] = {}
    for subset in sequence(rule.spec.get("subsets")):
        subset = mapping(subset)
        name = subset.get("name")
        if isinstance(name, str):
            labels = {str(k): "" if v is None else str(v) for k, v in mapping(subset.get("labels")).items()}
            selectors[name] = {**workload_selector, **labels}
    return selectors


def _workload_labels(context: AnalysisContext, pod: Resource) -> dict[str, str]:
    """A Pod's labels plus the non-empty topology labels of its Node and the Node's name."""
    labels = dict(pod.labels)
    node_name = _text(pod.spec.get("nodeName"))
    node = context.find(NODE, "", node_name) if node_name else None
    if node is None:
        return labels
    for key in TOPOLOGY_LABELS:
        if node.labels.get(key):
            labels[key] = node.labels[key]
    labels[HOSTNAME_LABEL] = node_name
    return labels


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
