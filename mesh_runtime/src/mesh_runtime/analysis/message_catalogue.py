"""The analyzer message catalogue: every code Istio defines, with its name, level and message template.

Codes, names, levels and templates are Istio's (`istioctl analyze` prints them and users grep for them);
templates use Go's verbs (`%s`, `%v`, `%q`, `%d`), rendered by `messages.go_format`.
"""

from __future__ import annotations

from .level import ERROR, INFO, WARNING
from .messages import MessageType

_LEVELS = {"Error": ERROR, "Warning": WARNING, "Info": INFO}

# (code, name, level, template)
_ENTRIES: tuple[tuple[str, str, str, str], ...] = (
    ("IST0001", "InternalError", "Error", "Internal error: %v"),
    ("IST0002", "Deprecated", "Warning", "Deprecated: %s"),
    ("IST0101", "ReferencedResourceNotFound", "Error", "Referenced %s not found: %q"),
    (
        "IST0102",
        "NamespaceNotInjected",
        "Info",
        "The namespace is not enabled for Istio injection. Run 'kubectl label namespace %s istio-injection=enabled' to enable it, or 'kubectl label namespace %s istio-injection=disabled' to explicitly mark it as not needing injection.",
    ),
    (
        "IST0103",
        "PodMissingProxy",
        "Warning",
        "The pod %s is missing the Istio proxy. This can often be resolved by restarting or redeploying the workload.",
    ),
    ("IST0106", "SchemaValidationError", "Error", "Schema validation error: %v"),
    ("IST0107", "MisplacedAnnotation", "Warning", "Misplaced annotation: %s can only be applied to %s"),
    ("IST0108", "UnknownAnnotation", "Warning", "Unknown annotation: %s"),
    (
        "IST0109",
        "ConflictingMeshGatewayVirtualServiceHosts",
        "Error",
        "The VirtualServices %s associated with mesh gateway define the same host %s which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.",
    ),
    (
        "IST0110",
        "ConflictingSidecarWorkloadSelectors",
        "Error",
        "The Sidecars %v in namespace %q select the same workload pod %q, which can lead to undefined behavior.",
    ),
    (
        "IST0111",
        "MultipleSidecarsWithoutWorkloadSelectors",
        "Error",
        "The Sidecars %v in namespace %q have no workload selector, which can lead to undefined behavior.",
    ),
    (
        "IST0112",
        "VirtualServiceDestinationPortSelectorRequired",
        "Error",
        "This VirtualService routes to a service %q that exposes multiple ports %v. Specifying a port in the destination is required to disambiguate.",
    ),
    (
        "IST0116",
        "DeploymentAssociatedToMultipleServices",
        "Warning",
        "This deployment %s is associated with multiple services using port %d but different protocols: %v",
    ),
    (
        "IST0118",
        "PortNameIsNotUnderNamingConvention",
        "Info",
        "Port name %s (port: %d, targetPort: %s) doesn't follow the naming convention of Istio port.",
    ),
    (
        "IST0123",
        "NamespaceMultipleInjectionLabels",
        "Warning",
        "The namespace has more than one type of injection labels %v, which may lead to undefined behavior. Make sure only one injection label exists.",
    ),
    ("IST0125", "InvalidAnnotation", "Warning", "Invalid annotation %s: %s"),
    ("IST0126", "UnknownMeshNetworksServiceRegistry", "Error", "Unknown service registry %s in network %s"),
    (
        "IST0127",
        "NoMatchingWorkloadsFound",
        "Warning",
        "No matching workloads for this resource with the following labels: %s",
    ),
    (
        "IST0128",
        "NoServerCertificateVerificationDestinationLevel",
        "Warning",
        "DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to validate server identity for host: %s",
    ),
    (
        "IST0129",
        "NoServerCertificateVerificationPortLevel",
        "Warning",
        "DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to validate server identity for host: %s at port %s",
    ),
    ("IST0130", "VirtualServiceUnreachableRule", "Warning", "VirtualService rule %v not used (%s)."),
    (
        "IST0131",
        "VirtualServiceIneffectiveMatch",
        "Info",
        "VirtualService rule %v match %v is not used (duplicate/overlapping match in rule %v).",
    ),
    (
        "IST0132",
        "VirtualServiceHostNotFoundInGateway",
        "Warning",
        "one or more host %v defined in VirtualService %s not found in Gateway %s.",
    ),
    ("IST0133", "SchemaWarning", "Warning", "Schema validation warning: %v"),
    (
        "IST0134",
        "ServiceEntryAddressesRequired",
        "Warning",
        "ServiceEntry addresses are required for this protocol.",
    ),
    (
        "IST0135",
        "DeprecatedAnnotation",
        "Info",
        "Annotation %q has been deprecated%s and may not work in future Istio versions.",
    ),
    (
        "IST0136",
        "AlphaAnnotation",
        "Info",
        "Annotation %q is part of an alpha-phase feature and may be incompletely supported.",
    ),
    (
        "IST0137",
        "DeploymentConflictingPorts",
        "Warning",
        "This deployment %s is associated with multiple services %v using targetPort %q but different ports: %v.",
    ),
    (
        "IST0138",
        "GatewayDuplicateCertificate",
        "Warning",
        "Duplicate certificate in multiple gateways %v may cause 404s if clients re-use HTTP2 connections.",
    ),
    ("IST0139", "InvalidWebhook", "Error", "%v"),
    (
        "IST0140",
        "IngressRouteRulesNotAffected",
        "Warning",
        "Subset in virtual service %s has no effect on ingress gateway %s requests",
    ),
    ("IST0141", "InsufficientPermissions", "Error", "Missing required permission to create resource %v (%v)"),
    (
        "IST0142",
        "UnsupportedKubernetesVersion",
        "Error",
        "The Kubernetes Version %q is lower than the minimum version: %v",
    ),
    (
        "IST0143",
        "LocalhostListener",
        "Error",
        "Port %v is exposed in a Service but listens on localhost. It will not be exposed to other pods.",
    ),
    ("IST0144", "InvalidApplicationUID", "Warning", "User ID (UID) 1337 is reserved for the sidecar proxy."),
    (
        "IST0145",
        "ConflictingGateways",
        "Error",
        "Conflict with gateways %s (workload selector %s, port %s, hosts %v).",
    ),
    (
        "IST0146",
        "ImageAutoWithoutInjectionWarning",
        "Warning",
        "%s %s contains `image: auto` but does not match any Istio injection webhook selectors.",
    ),
    (
        "IST0147",
        "ImageAutoWithoutInjectionError",
        "Error",
        "%s %s contains `image: auto` but does not match any Istio injection webhook selectors.",
    ),
    (
        "IST0148",
        "NamespaceInjectionEnabledByDefault",
        "Info",
        "is enabled for Istio injection, as Istio is installed with enableNamespacesByDefault as true.",
    ),
    (
        "IST0149",
        "JwtClaimBasedRoutingWithoutRequestAuthN",
        "Error",
        "The virtual service uses the JWT claim based routing (key: %s) but found no request authentication for the gateway (%s) pod (%s). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.",
    ),
    (
        "IST0150",
        "ExternalNameServiceTypeInvalidPortName",
        "Warning",
        "Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly",
    ),
    (
        "IST0151",
        "EnvoyFilterUsesRelativeOperation",
        "Warning",
        "This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the EnvoyFilter not to be applied. Using the INSERT_FIRST of ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.",
    ),
    (
        "IST0152",
        "EnvoyFilterUsesReplaceOperationIncorrectly",
        "Error",
        "The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.",
    ),
    (
        "IST0153",
        "EnvoyFilterUsesAddOperationIncorrectly",
        "Error",
        "The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.",
    ),
    (
        "IST0154",
        "EnvoyFilterUsesRemoveOperationIncorrectly",
        "Error",
        "The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.",
    ),
    (
        "IST0155",
        "EnvoyFilterUsesRelativeOperationWithProxyVersion",
        "Warning",
        "This EnvoyFilter does not have a priority and has a relative patch operation (NSTERT_BEFORE/AFTER, REPLACE, MERGE, DELETE) and proxyVersion set which can cause the EnvoyFilter not to be applied during an upgrade. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.",
    ),
    (
        "IST0156",
        "UnsupportedGatewayAPIVersion",
        "Error",
        "The Gateway API CRD version %v is lower than the minimum version: %v",
    ),
    (
        "IST0172",
        "FutureUnsupportedGatewayAPIVersion",
        "Warning",
        "The Gateway API CRD version %v is lower than the minimum version: %v",
    ),
    (
        "IST0157",
        "InvalidTelemetryProvider",
        "Warning",
        "The Telemetry %v in namespace %q with empty providers will be ignored.",
    ),
    (
        "IST0158",
        "PodsIstioProxyImageMismatchInNamespace",
        "Warning",
        "The Istio proxy images of the pods running in the namespace do not match the image defined in the injection configuration (pod names: %v). This often happens after upgrading the Istio control-plane and can be fixed by redeploying the pods.",
    ),
    (
        "IST0159",
        "ConflictingTelemetryWorkloadSelectors",
        "Error",
        "The Telemetries %v in namespace %q select the same workload pod %q, which can lead to undefined behavior.",
    ),
    (
        "IST0160",
        "MultipleTelemetriesWithoutWorkloadSelectors",
        "Error",
        "The Telemetries %v in namespace %q have no workload selector, which can lead to undefined behavior.",
    ),
    (
        "IST0161",
        "InvalidGatewayCredential",
        "Error",
        "The credential referenced by the Gateway %s in namespace %s is invalid, which can cause the traffic not to work as expected.",
    ),
    (
        "IST0162",
        "GatewayPortNotDefinedOnService",
        "Warning",
        "The gateway is listening on a target port (port %d) that is not defined in the Service associated with its workload instances (Pod selector %s). If you need to access the gateway port through the gateway Service, it will not be available.",
    ),
    (
        "IST0163",
        "InvalidExternalControlPlaneConfig",
        "Warning",
        "The hostname (%s) that was provided for the webhook (%s) to reach the ingress gateway on the external control plane cluster %s. Traffic may not flow properly.",
    ),
    (
        "IST0164",
        "ExternalControlPlaneAddressIsNotAHostname",
        "Info",
        "The address (%s) that was provided for the webhook (%s) to reach the ingress gateway on the external control plane cluster is an IP address. This is not recommended for a production environment.",
    ),
    (
        "IST0165",
        "ReferencedInternalGateway",
        "Warning",
        "Gateway reference in VirtualService %s is to an implementation-generated internal Gateway: %s.",
    ),
    (
        "IST0166",
        "IneffectiveSelector",
        "Warning",
        "Ineffective selector on Kubernetes Gateway %s. Use the TargetRef field instead.",
    ),
    ("IST0167", "IneffectivePolicy", "Warning", "The policy has no impact: %s."),
    (
        "IST0168",
        "UnknownUpgradeCompatibility",
        "Warning",
        "The configuration %q changed in release %s, but compatibility cannot be automatically detected: %s. Or, install with `--set compatibilityVersion=%s` to retain the old default.",
    ),
    (
        "IST0169",
        "UpdateIncompatibility",
        "Warning",
        "The configuration %q changed in release %s: %s. Or, install with `--set compatibilityVersion=%s` to retain the old default.",
    ),
    (
        "IST0170",
        "MultiClusterInconsistentService",
        "Warning",
        "The service %v in namespace %q is inconsistent across clusters %q, which can lead to undefined behaviors. The inconsistent behaviors are: %v.",
    ),
    (
        "IST0171",
        "NegativeConditionStatus",
        "Warning",
        "A condition with a negative status is present: type=%s, reason=%s, message=%s.",
    ),
    (
        "IST0173",
        "DestinationRuleSubsetNotSelectPods",
        "Error",
        "The Subset %s defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).",
    ),
    (
        "IST0174",
        "UnknownDestinationRuleHost",
        "Warning",
        "The host %s defined in the DestinationRule does not match any services in the mesh.",
    ),
    (
        "IST0175",
        "JwksUriFetchUnrestricted",
        "Warning",
        "BLOCKED_CIDRS_IN_JWKS_URIS is not configured but %d RequestAuthentication resource(s) exist (%s). Consider configuring it to restrict JWKS URI fetches to trusted networks.",
    ),
    (
        "IST0176",
        "GatewayAPICRDVersionBelowMinimum",
        "Warning",
        "Gateway API CRD %q is at version %q but Istio requires at least %q; resources of this kind will not be processed. Upgrade the Gateway API CRDs to satisfy the minimum version.",
    ),
    (
        "IST0177",
        "ConflictingServiceEntryProtocol",
        "Warning",
        "Multiple ServiceEntries (%s) define the same host %q and port %d with conflicting protocols (%s).",
    ),
)

CATALOGUE: dict[str, MessageType] = {
    code: MessageType(code, name, _LEVELS[level], template) for code, name, level, template in _ENTRIES
}
BY_NAME: dict[str, MessageType] = {t.name: t for t in CATALOGUE.values()}


def by_name(name: str) -> MessageType:
    return BY_NAME[name]
