"""injection.*: Istio's sidecar injection analyzers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from ...resources import Resource
from ...resources.fields import mapping
from ...resources.kinds import CONFIG_MAP, NAMESPACE, POD, PROXY_CONFIG
from ..context import AnalysisContext
from ..message_catalogue import by_name
from .base import analyzer, field_path
from .workloads import (
    DATAPLANE_MODE_AMBIENT,
    DATAPLANE_MODE_LABEL,
    INJECTION_ENABLED,
    INJECTION_LABEL,
    ISTIO_PROXY,
    REVISION_LABEL,
    SIDECAR_INJECT,
    containers,
    pod_spec,
    proxy_image,
)

NAMESPACE_NOT_INJECTED = by_name("NamespaceNotInjected")
POD_MISSING_PROXY = by_name("PodMissingProxy")
NAMESPACE_MULTIPLE_INJECTION_LABELS = by_name("NamespaceMultipleInjectionLabels")
NAMESPACE_INJECTION_ENABLED_BY_DEFAULT = by_name("NamespaceInjectionEnabledByDefault")
PODS_ISTIO_PROXY_IMAGE_MISMATCH_IN_NAMESPACE = by_name("PodsIstioProxyImageMismatchInNamespace")

ISTIO_SYSTEM = "istio-system"
INJECTOR_CONFIG_MAP = "istio-sidecar-injector"
PROXY_IMAGE_ANNOTATION = "sidecar.istio.io/proxyImage"
PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config"


def injector_config_map_name(revision: str) -> str:
    """The sidecar injector's ConfigMap for a revision (`istio-sidecar-injector[-<rev>]`)."""
    return INJECTOR_CONFIG_MAP if revision in ("", "default") else f"{INJECTOR_CONFIG_MAP}-{revision}"


@analyzer(
    "injection.Analyzer", "Checks conditions related to Istio sidecar injection", (NAMESPACE, POD, CONFIG_MAP)
)
def injection(context: AnalysisContext) -> None:
    injected = _check_namespaces(context)
    for pod in context.each(POD):
        if pod.namespace in injected and _should_have_proxy(pod):
            context.report(POD_MISSING_PROXY(pod, pod.full_name))


def _check_namespaces(context: AnalysisContext) -> set[str]:
    """Report on each Namespace's injection labels; return the namespaces labelled for injection."""
    injected: set[str] = set()
    # As in istioctl, once an injector ConfigMap that enables every namespace is found, it stays in force
    # for the namespaces that follow.
    enabled_by_default = False
    for namespace in context.each(NAMESPACE):
        name = namespace.name
        if name == ISTIO_SYSTEM:
            continue
        labels = namespace.labels
        injection_label = labels.get(INJECTION_LABEL)
        conflicting = _injection_labels(labels)
        if len(conflicting) > 1:
            context.report(NAMESPACE_MULTIPLE_INJECTION_LABELS(namespace, conflicting))
        if labels.get(DATAPLANE_MODE_LABEL) == DATAPLANE_MODE_AMBIENT:
            continue
        revision = labels.get(REVISION_LABEL)
        config_map = _injector_config_map(context, revision or "")
        if config_map is not None:
            enabled_by_default = _enables_namespaces_by_default(config_map)
        if not injection_label and revision is None:
            if enabled_by_default:
                context.report(NAMESPACE_INJECTION_ENABLED_BY_DEFAULT(namespace))
            else:
                context.report(
                    NAMESPACE_NOT_INJECTED(namespace, name, name, field_path=field_path("metadata", "name"))
                )
            continue
        if injection_label == INJECTION_ENABLED:
            injected.add(name)
    return injected


def _injection_labels(labels: Mapping[str, str]) -> list[str]:
    """The namespace's injection labels as `key=value`; a disabling `istio-injection` hides the others."""
    found: list[str] = []
    if INJECTION_LABEL in labels:
        found.append(f"{INJECTION_LABEL}={labels[INJECTION_LABEL]}")
    if INJECTION_LABEL not in labels or labels[INJECTION_LABEL] == INJECTION_ENABLED:
        found += [f"{key}={labels[key]}" for key in (REVISION_LABEL, DATAPLANE_MODE_LABEL) if key in labels]
    return found


def _injector_config_map(context: AnalysisContext, revision: str) -> Resource | None:
    wanted = injector_config_map_name(revision)
    return next((cm for cm in context.each(CONFIG_MAP) if cm.name == wanted), None)


def _injector_values(config_map: Resource) -> Mapping[str, Any]:
    """The injector's Helm values: JSON under the ConfigMap's `values` key (empty when unreadable)."""
    text = mapping(config_map.body.get("data")).get("values")
    if not isinstance(text, str):
        return {}
    try:
        return mapping(json.loads(text))
    except ValueError:
        return {}


def _enables_namespaces_by_default(config_map: Resource) -> bool:
    webhook = mapping(_injector_values(config_map).get("sidecarInjectorWebhook"))
    return webhook.get("enableNamespacesByDefault") is True


def _should_have_proxy(pod: Resource) -> bool:
    """Whether a Pod in an injected namespace lacks the proxy it should have."""
    choice = pod.labels.get(SIDECAR_INJECT, pod.annotations.get(SIDECAR_INJECT, ""))
    if choice.lower() == "false":
        return False
    spec = pod_spec(pod)
    if spec.get("hostNetwork") is True:
        return False
    return not proxy_image(spec, with_init=True)


@analyzer(
    "injection.ImageAnalyzer",
    "Checks the image of auto-injection configured with the running proxies on pods",
    (NAMESPACE, POD, CONFIG_MAP, PROXY_CONFIG),
)
def image(context: AnalysisContext) -> None:
    images = {cm.name: _injector_proxy_image(cm) for cm in context.each(CONFIG_MAP) if _is_injector(cm)}
    if not images:
        return
    revisions = _injected_namespace_revisions(context)
    mismatched: dict[str, list[str]] = {}
    for pod in context.each(POD):
        revision = revisions.get(pod.namespace)
        if revision is None or pod.annotations.get(PROXY_IMAGE_ANNOTATION):
            continue
        expected = images.get(injector_config_map_name(revision))
        if expected is None:
            continue
        variant = _image_type(context, pod)
        for container in containers(pod_spec(pod), with_init=True):
            if container.get("name") == ISTIO_PROXY and container.get("image") not in (
                expected,
                f"{expected}-{variant}",
            ):
                mismatched.setdefault(pod.namespace, []).append(pod.name)
    for namespace, pods in mismatched.items():
        context.report(
            PODS_ISTIO_PROXY_IMAGE_MISMATCH_IN_NAMESPACE(context.find(NAMESPACE, "", namespace), pods)
        )


def _is_injector(config_map: Resource) -> bool:
    return config_map.name.startswith(INJECTOR_CONFIG_MAP)


def _injector_proxy_image(config_map: Resource) -> str:
    """The proxy image the injector uses: `global.proxy.image` if a full reference, else hub/image:tag."""
    values = mapping(_injector_values(config_map).get("global"))
    proxy = mapping(values.get("proxy")).get("image")
    proxy = proxy if isinstance(proxy, str) else ""
    if "/" in proxy:
        return proxy
    return f"{_string(values.get('hub'))}/{proxy}:{_string(values.get('tag'))}"


def _injected_namespace_revisions(context: AnalysisContext) -> dict[str, str]:
    """Namespaces labelled for injection, with the revision that injects them."""
    revisions: dict[str, str] = {}
    for namespace in context.each(NAMESPACE):
        labels = namespace.labels
        if REVISION_LABEL in labels:
            revisions[namespace.name] = labels[REVISION_LABEL]
        elif labels.get(INJECTION_LABEL) == INJECTION_ENABLED:
            revisions[namespace.name] = "default"
    return revisions


def _image_type(context: AnalysisContext, pod: Resource) -> str:
    """The proxy image variant (`distroless`…) in force for a Pod; `""` for the default one.

    Each source overrides the ones before it: the mesh's default proxy config, the ProxyConfig of the root
    namespace, the pod namespace's ProxyConfig without a selector, the ProxyConfigs selecting the pod, and
    the pod's `proxy.istio.io/config` annotation.
    """
    root = context.mesh_config.root_namespace
    in_root = [pc for pc in context.each(PROXY_CONFIG) if pc.namespace == root]
    local = [pc for pc in context.each(PROXY_CONFIG) if pc.namespace == pod.namespace != root]
    layers: list[Mapping[str, Any]] = [context.mesh_config.default_config]
    layers += [pc.spec for pc in in_root[-1:]]
    layers += [pc.spec for pc in [pc for pc in local if pc.spec.get("selector") is None][-1:]]
    layers += [pc.spec for pc in local if pc.spec.get("selector") is not None and _selects(pc, pod)]
    annotation = pod.annotations.get(PROXY_CONFIG_ANNOTATION)
    if annotation is not None:
        layers.append(_yaml_mapping(annotation))
    variant = ""
    for layer in layers:
        variant = _string(mapping(layer.get("image")).get("imageType")) or variant
    return "" if variant == "default" else variant


def _selects(proxy_config: Resource, pod: Resource) -> bool:
    match_labels = mapping(mapping(proxy_config.spec.get("selector")).get("matchLabels"))
    return all(pod.labels.get(key) == value for key, value in match_labels.items())


def _yaml_mapping(text: str) -> Mapping[str, Any]:
    try:
        return mapping(yaml.safe_load(text))
    except yaml.YAMLError:
        return {}


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
