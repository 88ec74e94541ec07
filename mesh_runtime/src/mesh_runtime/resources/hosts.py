"""Istio's host names: resolving short names, matching wildcards, gateway and namespace-scoped hosts."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CLUSTER_DOMAIN = "cluster.local"
#: The reserved gateway name that stands for every sidecar in the mesh.
MESH_GATEWAY = "mesh"


def to_fqdn(host: str, namespace: str, domain: str = DEFAULT_CLUSTER_DOMAIN) -> str:
    """Resolve a short name in the namespace of the rule that uses it (`reviews` → `reviews.ns.svc.<domain>`).

    Names with a dot and wildcards are already fully qualified and are returned unchanged.
    """
    if "." in host or host.startswith("*"):
        return host
    return f"{host}.{namespace}.svc.{domain}"


@dataclass(frozen=True, slots=True)
class ServiceName:
    namespace: str
    name: str


def kubernetes_service(host: str, namespace: str) -> ServiceName:
    """The Kubernetes Service a host names, as Istio reads it.

    `reviews` is `reviews` in the rule's namespace; `reviews.prod.svc.<cluster domain>` is `reviews` in
    `prod`, whatever the cluster domain (istioctl knows only cluster.local: istio/istio#48326). Any other
    name is looked up as given, in the rule's namespace.
    """
    parts = host.split(".")
    if len(parts) >= 4 and parts[2] == "svc" and all(parts):
        return ServiceName(parts[1], parts[0])
    return ServiceName(namespace, host)


def matches(a: str, b: str) -> bool:
    """Whether two host names overlap, either possibly a wildcard (`*.example.com`, `*`). Symmetric."""
    if a == b:
        return True
    a_wild, b_wild = a.startswith("*"), b.startswith("*")
    if a_wild and b_wild:
        # the shorter suffix covers the longer one
        return a[1:].endswith(b[1:]) or b[1:].endswith(a[1:])
    if a_wild:
        return b.endswith(a[1:])
    if b_wild:
        return a.endswith(b[1:])
    return False


def subset_of(a: str, b: str) -> bool:
    """Whether every name `a` stands for is also one `b` stands for (`b` may be a wildcard)."""
    if a == b:
        return True
    if b.startswith("*"):
        suffix = b[1:]
        return a.endswith(suffix) if not a.startswith("*") else a[1:].endswith(suffix)
    return False


def split_namespaced_host(host: str, own_namespace: str) -> tuple[str, str]:
    """Split a Gateway or Sidecar host `ns/dnsName` into (namespace, dnsName).

    `./x` means the resource's own namespace; `*/x` and a bare `x` mean any namespace (`*`).
    """
    namespace, sep, dns_name = host.partition("/")
    if not sep:
        return "*", host
    if namespace == ".":
        namespace = own_namespace
    return namespace, dns_name


def gateway_reference(reference: str, namespace: str) -> tuple[str, str]:
    """A VirtualService `gateways` entry as (namespace, name): `ns/name`, or a bare name in its namespace."""
    gw_namespace, sep, name = reference.partition("/")
    if sep:
        return gw_namespace, name
    return namespace, reference
