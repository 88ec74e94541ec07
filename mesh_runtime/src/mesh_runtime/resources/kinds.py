"""The kinds of resource the mesh reads: Istio's config API and the Kubernetes kinds the analyzers use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of resource, named by its API group and kind as Kubernetes names them."""

    group: str
    kind: str
    versions: tuple[str, ...]
    namespaced: bool = True
    #: True for the kinds whose spec the mesh validates and acts on.
    modelled: bool = True

    @property
    def api_group(self) -> str:
        return self.group or "core"

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


NETWORKING = "networking.istio.io"
SECURITY = "security.istio.io"
TELEMETRY = "telemetry.istio.io"
EXTENSIONS = "extensions.istio.io"
GATEWAY_API = "gateway.networking.k8s.io"
_NET_VERSIONS = ("v1", "v1beta1", "v1alpha3")
_SEC_VERSIONS = ("v1", "v1beta1")

# Istio's config API: the kinds meshlab validates and serves.
VIRTUAL_SERVICE = Kind(NETWORKING, "VirtualService", _NET_VERSIONS)
DESTINATION_RULE = Kind(NETWORKING, "DestinationRule", _NET_VERSIONS)
GATEWAY = Kind(NETWORKING, "Gateway", _NET_VERSIONS)
SERVICE_ENTRY = Kind(NETWORKING, "ServiceEntry", _NET_VERSIONS)
SIDECAR = Kind(NETWORKING, "Sidecar", _NET_VERSIONS)
PEER_AUTHENTICATION = Kind(SECURITY, "PeerAuthentication", _SEC_VERSIONS)
AUTHORIZATION_POLICY = Kind(SECURITY, "AuthorizationPolicy", _SEC_VERSIONS)

# Istio kinds that are read (some analyzers look at them) but whose spec the mesh does not act on.
ENVOY_FILTER = Kind(NETWORKING, "EnvoyFilter", ("v1alpha3",), modelled=False)
WORKLOAD_ENTRY = Kind(NETWORKING, "WorkloadEntry", _NET_VERSIONS, modelled=False)
WORKLOAD_GROUP = Kind(NETWORKING, "WorkloadGroup", _NET_VERSIONS, modelled=False)
PROXY_CONFIG = Kind(NETWORKING, "ProxyConfig", ("v1beta1",), modelled=False)
REQUEST_AUTHENTICATION = Kind(SECURITY, "RequestAuthentication", _SEC_VERSIONS, modelled=False)
TELEMETRY_KIND = Kind(TELEMETRY, "Telemetry", ("v1", "v1alpha1"), modelled=False)
WASM_PLUGIN = Kind(EXTENSIONS, "WasmPlugin", ("v1alpha1",), modelled=False)

# Kubernetes kinds the analyzers read.
NAMESPACE = Kind("", "Namespace", ("v1",), namespaced=False, modelled=False)
SERVICE = Kind("", "Service", ("v1",), modelled=False)
POD = Kind("", "Pod", ("v1",), modelled=False)
NODE = Kind("", "Node", ("v1",), namespaced=False, modelled=False)
CONFIG_MAP = Kind("", "ConfigMap", ("v1",), modelled=False)
SECRET = Kind("", "Secret", ("v1",), modelled=False)
DEPLOYMENT = Kind("apps", "Deployment", ("v1",), modelled=False)
MUTATING_WEBHOOK = Kind(
    "admissionregistration.k8s.io", "MutatingWebhookConfiguration", ("v1",), namespaced=False, modelled=False
)
CUSTOM_RESOURCE_DEFINITION = Kind(
    "apiextensions.k8s.io", "CustomResourceDefinition", ("v1",), namespaced=False, modelled=False
)
K8S_GATEWAY = Kind(GATEWAY_API, "Gateway", ("v1", "v1beta1"), modelled=False)
K8S_HTTP_ROUTE = Kind(GATEWAY_API, "HTTPRoute", ("v1", "v1beta1"), modelled=False)

ISTIO_KINDS: tuple[Kind, ...] = (
    VIRTUAL_SERVICE,
    DESTINATION_RULE,
    GATEWAY,
    SERVICE_ENTRY,
    SIDECAR,
    PEER_AUTHENTICATION,
    AUTHORIZATION_POLICY,
    ENVOY_FILTER,
    WORKLOAD_ENTRY,
    WORKLOAD_GROUP,
    PROXY_CONFIG,
    REQUEST_AUTHENTICATION,
    TELEMETRY_KIND,
    WASM_PLUGIN,
)
KUBERNETES_KINDS: tuple[Kind, ...] = (
    NAMESPACE,
    SERVICE,
    POD,
    NODE,
    CONFIG_MAP,
    SECRET,
    DEPLOYMENT,
    MUTATING_WEBHOOK,
    CUSTOM_RESOURCE_DEFINITION,
    K8S_GATEWAY,
    K8S_HTTP_ROUTE,
)
KNOWN_KINDS: tuple[Kind, ...] = ISTIO_KINDS + KUBERNETES_KINDS
#: The kinds of Istio's config API that the mesh validates and acts on.
MODELLED_KINDS: tuple[Kind, ...] = tuple(k for k in ISTIO_KINDS if k.modelled)
#: API groups that belong to Istio: an unknown kind in one of them is a user error (a typo).
ISTIO_GROUPS = frozenset({NETWORKING, SECURITY, TELEMETRY, EXTENSIONS})

#: Kubernetes' built-in kinds by API group: a kind outside these lists in one of these groups is a typo.
KUBERNETES_BUILTIN_KINDS: dict[str, frozenset[str]] = {
    "": frozenset(
        {
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "List",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        }
    ),
    "apps": frozenset({"ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"}),
    "batch": frozenset({"CronJob", "Job"}),
    "networking.k8s.io": frozenset({"Ingress", "IngressClass", "NetworkPolicy", "ServiceCIDR", "IPAddress"}),
    "rbac.authorization.k8s.io": frozenset({"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}),
    "policy": frozenset({"PodDisruptionBudget"}),
    "autoscaling": frozenset({"HorizontalPodAutoscaler"}),
}

_BY_GROUP_KIND = {(k.group, k.kind): k for k in KNOWN_KINDS}


def split_api_version(api_version: str) -> tuple[str, str]:
    """`networking.istio.io/v1` → (`networking.istio.io`, `v1`); `v1` → (``, `v1`)."""
    group, _, version = api_version.rpartition("/")
    return group, version


def lookup(group: str, kind: str) -> Kind | None:
    return _BY_GROUP_KIND.get((group, kind))


def by_name(name: str) -> Kind | None:
    """A kind by its bare name (`VirtualService`), preferring Istio's kinds; case-insensitive."""
    lowered = name.lower()
    for k in KNOWN_KINDS:
        if k.kind.lower() == lowered:
            return k
    return None


def kinds_in_group(group: str) -> tuple[Kind, ...]:
    return tuple(k for k in KNOWN_KINDS if k.group == group)
