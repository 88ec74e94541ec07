"""A lab spec: what the launcher starts on this machine — namespaces, services, workloads, gateways.

In YAML (`mesh-lab up --spec FILE`):

```yaml
name: bookinfo
trustDomain: cluster.local            # optional
namespaces:
- name: default
  labels: {istio-injection: enabled}
services:                             # registered with meshd as Kubernetes Services
- name: reviews
  namespace: default                  # optional, default "default"
  labels: {app: reviews}
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]   # targetPort optional
workloads:
- name: reviews-v2
  namespace: default
  serviceAccount: bookinfo-reviews
  labels: {app: reviews, version: v2}
  command: ["{python}", "-m", "bookinfo", "reviews", "--version", "v2", "--port", "{app_port}"]
  appPort: 0                          # optional; 0 (the default) lets the launcher choose a free port
  sidecar: true                       # optional, default true
  env: {LOG_LEVEL: info}              # optional
gateways:
- name: istio-ingressgateway
  namespace: istio-system
  serviceAccount: istio-ingressgateway-service-account
  labels: {istio: ingressgateway}
  ports: [{name: http2, port: 8080}]  # the Gateway server ports it serves (each on a free local port)
resources: []                         # more documents applied after the services (Gateways, routes...)
```

A command's words may name `{python}` (this interpreter), `{app_port}`, `{host}` (127.0.0.1), `{name}` and
`{namespace}`; environment values may too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ..ca.identity import DEFAULT_TRUST_DOMAIN

_NO_LABELS: Mapping[str, str] = MappingProxyType({})
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
PLACEHOLDERS = ("{python}", "{app_port}", "{host}", "{name}", "{namespace}")


class SpecError(Exception):
    """A lab spec that cannot be used; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class NamespaceSpec:
    name: str
    labels: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)


@dataclass(frozen=True, slots=True)
class PortSpec:
    name: str
    port: int
    #: Where the workload listens for it; 0 for the service port itself (or, for gateways, a free port).
    target_port: int = 0


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    namespace: str
    ports: tuple[PortSpec, ...]
    selector: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)

    @property
    def hostname(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    name: str
    namespace: str
    service_account: str
    labels: Mapping[str, str]
    command: tuple[str, ...]
    app_port: int = 0
    sidecar: bool = True
    env: Mapping[str, str] = field(default_factory=lambda: _NO_LABELS)

    @property
    def proxy_id(self) -> str:
        return f"{self.name}.{self.namespace}"


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    name: str
    namespace: str
    service_account: str
    labels: Mapping[str, str]
    ports: tuple[PortSpec, ...]

    @property
    def proxy_id(self) -> str:
        return f"{self.name}.{self.namespace}"


@dataclass(frozen=True, slots=True)
class LabSpec:
    name: str
    namespaces: tuple[NamespaceSpec, ...] = ()
    services: tuple[ServiceSpec, ...] = ()
    workloads: tuple[WorkloadSpec, ...] = ()
    gateways: tuple[GatewaySpec, ...] = ()
    #: Documents applied through the config API after the namespaces and services.
    resources: tuple[Mapping[str, Any], ...] = ()
    trust_domain: str = DEFAULT_TRUST_DOMAIN
    #: Tracing for every proxy (meshd serve --zipkin-address, --trace-sampling); unset: meshd decides.
    zipkin_address: str = ""
    trace_sampling: float | None = None

    def selected_workloads(self, service: ServiceSpec) -> list[WorkloadSpec]:
        """The workloads a service selects (same namespace, every selector label matches)."""
        return [
            w
            for w in self.workloads
            if w.namespace == service.namespace
            and service.selector
            and all(w.labels.get(k) == v for k, v in service.selector.items())
        ]

    def identities(self) -> list[tuple[str, str]]:
        """(namespace, service account) of every proxy, once each, in order."""
        seen: list[tuple[str, str]] = []
        proxies: list[WorkloadSpec | GatewaySpec] = [
            *(w for w in self.workloads if w.sidecar),
            *self.gateways,
        ]
        for item in proxies:
            identity = (item.namespace, item.service_account)
            if identity not in seen:
                seen.append(identity)
        return seen


# ------------------------------------------------------------------------------------------------ loading


def load_spec(path: Path) -> LabSpec:
    """A LabSpec from a YAML file; SpecError naming the file and field otherwise."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the lab spec: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not YAML: {exc}") from None
    return spec_from_document(document, str(path))


def spec_from_document(document: Any, source: str) -> LabSpec:
    reader = _Reader(source)
    root = reader.mapping(document, "")
    spec = LabSpec(
        name=reader.text(root.get("name", "lab"), "name"),
        namespaces=tuple(
            _namespace(reader, item, f"namespaces[{i}]")
            for i, item in enumerate(reader.sequence(root.get("namespaces"), "namespaces"))
        ),
        services=tuple(
            _service(reader, item, f"services[{i}]")
            for i, item in enumerate(reader.sequence(root.get("services"), "services"))
        ),
        workloads=tuple(
            _workload(reader, item, f"workloads[{i}]")
            for i, item in enumerate(reader.sequence(root.get("workloads"), "workloads"))
        ),
        gateways=tuple(
            _gateway(reader, item, f"gateways[{i}]")
            for i, item in enumerate(reader.sequence(root.get("gateways"), "gateways"))
        ),
        resources=tuple(
            reader.mapping(item, f"resources[{i}]")
            for i, item in enumerate(reader.sequence(root.get("resources"), "resources"))
        ),
        trust_domain=reader.text(root.get("trustDomain", DEFAULT_TRUST_DOMAIN), "trustDomain"),
    )
    check_spec(spec, source)
    return spec


def check_spec(spec: LabSpec, source: str = "lab spec") -> None:
    """Names unique, namespaces declared, fixed ports not taken twice."""
    declared = {n.name for n in spec.namespaces}
    proxies: set[str] = set()
    for kind, items in (("workloads", spec.workloads), ("gateways", spec.gateways)):
        for item in items:
            if item.proxy_id in proxies:
                raise SpecError(f"{source}: {kind}: {item.name!r} in {item.namespace!r} is declared twice")
            proxies.add(item.proxy_id)
    placed: list[tuple[str, Sequence[ServiceSpec | WorkloadSpec | GatewaySpec]]] = [
        ("services", spec.services),
        ("workloads", spec.workloads),
        ("gateways", spec.gateways),
    ]
    for kind, entries in placed:
        for i, entry in enumerate(entries):
            if entry.namespace not in declared:
                raise SpecError(
                    f"{source}: {kind}[{i}].namespace: namespace {entry.namespace!r} is not declared "
                    "under namespaces"
                )
    fixed = [w.app_port for w in spec.workloads if w.app_port]
    if len(fixed) != len(set(fixed)):
        raise SpecError(f"{source}: workloads: two workloads name the same appPort")


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> SpecError:
        return SpecError(f"{self.source}: {path or 'the document'}: {message}")

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        return value

    def sequence(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {type(value).__name__}")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, "expected a non-empty string")
        return value

    def name(self, value: Any, path: str) -> str:
        text = self.text(value, path)
        if not _DNS_LABEL.match(text) or len(text) > 63:
            raise self.fail(path, f"{text!r} is not a DNS label (lower case letters, digits and '-')")
        return text

    def labels(self, value: Any, path: str) -> Mapping[str, str]:
        labels = self.mapping(value, path)
        for key, item in labels.items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise self.fail(f"{path}.{key}", "labels are strings (quote numbers and booleans)")
        return MappingProxyType(dict(labels))

    def port(self, value: Any, path: str, allow_zero: bool = False) -> int:
        low = 0 if allow_zero else 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 65535:
            raise self.fail(path, f"expected a port number ({low}-65535), got {value!r}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {value!r}")
        return value

    def ports(self, value: Any, path: str) -> tuple[PortSpec, ...]:
        ports = []
        for i, item in enumerate(self.sequence(value, path)):
            where = f"{path}[{i}]"
            entry = self.mapping(item, where)
            ports.append(
                PortSpec(
                    name=self.text(entry.get("name", "http"), f"{where}.name"),
                    port=self.port(entry.get("port"), f"{where}.port"),
                    target_port=self.port(entry.get("targetPort", 0), f"{where}.targetPort", allow_zero=True),
                )
            )
        if not ports:
            raise self.fail(path, "at least one port is needed")
        return tuple(ports)


def _namespace(reader: _Reader, item: Any, path: str) -> NamespaceSpec:
    entry = reader.mapping(item, path)
    return NamespaceSpec(
        reader.name(entry.get("name"), f"{path}.name"), reader.labels(entry.get("labels"), f"{path}.labels")
    )


def _service(reader: _Reader, item: Any, path: str) -> ServiceSpec:
    entry = reader.mapping(item, path)
    return ServiceSpec(
        name=reader.name(entry.get("name"), f"{path}.name"),
        namespace=reader.name(entry.get("namespace", "default"), f"{path}.namespace"),
        ports=reader.ports(entry.get("ports"), f"{path}.ports"),
        selector=reader.labels(entry.get("selector"), f"{path}.selector"),
        labels=reader.labels(entry.get("labels"), f"{path}.labels"),
    )


def _workload(reader: _Reader, item: Any, path: str) -> WorkloadSpec:
    entry = reader.mapping(item, path)
    command = reader.sequence(entry.get("command"), f"{path}.command")
    if not command:
        raise reader.fail(f"{path}.command", "the command that runs the app is needed (a list of words)")
    env = reader.labels(entry.get("env"), f"{path}.env")
    return WorkloadSpec(
        name=reader.name(entry.get("name"), f"{path}.name"),
        namespace=reader.name(entry.get("namespace", "default"), f"{path}.namespace"),
        service_account=reader.name(entry.get("serviceAccount", "default"), f"{path}.serviceAccount"),
        labels=reader.labels(entry.get("labels"), f"{path}.labels"),
        command=tuple(reader.text(word, f"{path}.command[{i}]") for i, word in enumerate(command)),
        app_port=reader.port(entry.get("appPort", 0), f"{path}.appPort", allow_zero=True),
        sidecar=reader.boolean(entry.get("sidecar", True), f"{path}.sidecar"),
        env=env,
    )


def _gateway(reader: _Reader, item: Any, path: str) -> GatewaySpec:
    entry = reader.mapping(item, path)
    return GatewaySpec(
        name=reader.name(entry.get("name"), f"{path}.name"),
        namespace=reader.name(entry.get("namespace", "istio-system"), f"{path}.namespace"),
        service_account=reader.name(entry.get("serviceAccount", "default"), f"{path}.serviceAccount"),
        labels=reader.labels(entry.get("labels"), f"{path}.labels"),
        ports=reader.ports(entry.get("ports"), f"{path}.ports"),
    )
