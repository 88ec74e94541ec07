"""Where a destination host leads: Services and ServiceEntries by host, as Istio's analyzers see them.

Istio's analyzers treat every Kubernetes Service as a ServiceEntry with one host (`name.ns.svc.<domain>`) and
its ports, and index every host by the namespaces it is visible in (its scope): a ServiceEntry's `exportTo`,
a Service's `networking.istio.io/exportTo` annotation, or `*` for every namespace. A rule looks a host up
from its own namespace and through its own `exportTo`.

One difference on purpose: a Service is found under any `name.ns.svc.<domain>` spelling, whatever the
cluster's DNS domain, where istioctl knows only its configured one (istio/istio#48326).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ...resources import Resource
from ...resources.fields import mapping, sequence, strings
from ...resources.hosts import kubernetes_service, to_fqdn
from ...resources.kinds import SERVICE, SERVICE_ENTRY
from ..context import AnalysisContext

#: The Service annotation that limits which namespaces see it, as ServiceEntry `exportTo` does.
EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo"
ALL_NAMESPACES = "*"
SAME_NAMESPACE = "."
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """A Service or ServiceEntry that a host leads to."""

    resource: Resource
    ports: tuple[int, ...]
    #: A ServiceEntry's `workloadSelector.labels`; a Kubernetes Service contributes none.
    workload_selector: Mapping[str, str]


class ServiceIndex:
    """Every Service and ServiceEntry host, by the scopes that can see it."""

    def __init__(self, context: AnalysisContext) -> None:
        self._entries: dict[tuple[str, str], ServiceTarget] = {}
        self._services: dict[tuple[str, str, str], ServiceTarget] = {}
        self._wildcards: list[tuple[str, str, ServiceTarget]] = []
        for entry in context.each(SERVICE_ENTRY):
            self._add_service_entry(entry)
        for service in context.each(SERVICE):
            self._add_service(service)

    def lookup(self, namespace: str, export_to: Sequence[str], host: str) -> ServiceTarget | None:
        """What `host`, used by a rule in `namespace` exported to `export_to`, leads to (None: nothing).

        First hosts visible everywhere, then hosts visible in the rule's scopes (its namespace when it has
        no `exportTo`), then wildcard ServiceEntry hosts visible everywhere or in the rule's namespace.
        """
        fqdn = to_fqdn(host, namespace)
        found = self._exact(ALL_NAMESPACES, host, namespace, fqdn)
        if found is not None:
            return found
        for scope in _rule_scopes(export_to, namespace):
            found = self._exact(scope, host, namespace, fqdn)
            if found is not None:
                return found
        bare = host.removeprefix(WILDCARD)
        for scope, suffix, target in self._wildcards:
            if scope in (ALL_NAMESPACES, namespace) and bare.endswith(suffix):
                return target
        return None

    def _exact(self, scope: str, host: str, namespace: str, fqdn: str) -> ServiceTarget | None:
        # A Service shadows a ServiceEntry declaring its own host, as in Istio's index.
        service = kubernetes_service(host, namespace)
        found = self._services.get((scope, service.namespace, service.name))
        return found if found is not None else self._entries.get((scope, fqdn))

    def _add_service_entry(self, entry: Resource) -> None:
        ports = tuple(_number(mapping(port).get("number")) for port in sequence(entry.spec.get("ports")))
        selector = mapping(mapping(entry.spec.get("workloadSelector")).get("labels"))
        target = ServiceTarget(entry, ports, {str(k): str(v) for k, v in selector.items()})
        scopes = _export_scopes(strings(entry.spec.get("exportTo")), entry.namespace)
        for host in strings(entry.spec.get("hosts")):
            fqdn = to_fqdn(host, entry.namespace)
            for scope in scopes:
                self._entries[(scope, fqdn)] = target
                if fqdn.startswith(WILDCARD):
                    self._wildcards.append((scope, fqdn.removeprefix(WILDCARD), target))

    def _add_service(self, service: Resource) -> None:
        ports = tuple(_number(mapping(port).get("port")) for port in sequence(service.spec.get("ports")))
        target = ServiceTarget(service, ports, {})
        annotation = service.annotations.get(EXPORT_TO_ANNOTATION, "")
        export_to = [part.strip() for part in annotation.split(",")] if annotation.strip() else []
        for scope in _export_scopes(export_to, service.namespace):
            self._services[(scope, service.namespace, service.name)] = target


def _export_scopes(export_to: Iterable[str], own_namespace: str) -> list[str]:
    """The scopes a ServiceEntry or Service is visible in: `*`, or the namespaces it names (`.` = its own)."""
    scopes: list[str] = []
    for scope in export_to:
        if scope == ALL_NAMESPACES:
            return [ALL_NAMESPACES]
        scope = own_namespace if scope == SAME_NAMESPACE else scope
        if scope not in scopes:
            scopes.append(scope)
    return scopes or [ALL_NAMESPACES]


def _rule_scopes(export_to: Sequence[str], namespace: str) -> list[str]:
    """The scopes a rule looks hosts up in: its namespace, or each namespace it is exported to."""
    if not export_to:
        return [namespace]
    return [namespace if scope == SAME_NAMESPACE else scope for scope in export_to]


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
