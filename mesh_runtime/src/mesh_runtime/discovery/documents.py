"""From applied text to store writes, and from stored objects back to documents.

`prepare` reads a (multi-document) YAML or JSON text, checks every document — Istio's kinds with the
validation package, the registry's kinds (Namespace, Service, WorkloadEntry) and metadata here — and returns
either the writes or every problem found, each with the source, line, resource and field path. Nothing is
written by this module: the caller writes all of them in one transaction, or none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..resources import LoadError, Resource, load_text
from ..resources import kinds as k
from ..resources.kinds import Kind
from ..validation import validate
from ..validation.formats import (
    dns1123_label,
    fqdn,
    ip_address,
    is_ip_address,
    label_key,
    label_value,
    port_number,
)
from .frozen import thaw
from .snapshot import CONFIG_KINDS, REGISTRY_KINDS
from .store import NamespaceRecord, PutNamespace, PutObject, StoredObject, Write

DEFAULT_NAMESPACE = "default"
#: Metadata the server sets; stripped from what is applied so that `get -o yaml | apply` is `unchanged`.
SERVER_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
STORED_KINDS: Mapping[str, Kind] = {**CONFIG_KINDS, **REGISTRY_KINDS, k.NAMESPACE.kind: k.NAMESPACE}
ACCEPTED = ", ".join([*CONFIG_KINDS, "Namespace", "Service", "WorkloadEntry"])
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_IANA_SERVICE_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?\Z")
_SERVICE_PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a document is refused (or a warning about it), located as precisely as known."""

    source: str
    line: int
    resource: str  # `Kind ns/name`, "" when the document could not be read as a resource
    path: str  # `spec.http[0].route`, "" for the whole document
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "resource": self.resource,
            "path": self.path,
            "message": self.message,
        }


@dataclass(slots=True)
class Prepared:
    writes: list[Write] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: What each document is, in order: (kind, group, namespace, name).
    documents: list[tuple[str, str, str, str]] = field(default_factory=list)

    def extend(self, other: Prepared) -> None:
        self.writes += other.writes
        self.errors += other.errors
        self.warnings += other.warnings
        self.documents += other.documents

    def ordered_writes(self) -> list[Write]:
        """Namespaces first (so one applied with its resources is `created`), then the rest in order."""
        namespaces = [w for w in self.writes if isinstance(w, PutNamespace) and not w.ensure_only]
        return namespaces + [w for w in self.writes if w not in namespaces]


def prepare(text: str, source: str, namespace: str | None = None) -> Prepared:
    """Check every document of `text`; `namespace` (kubectl's -n) places the ones that name none.

    A document naming another namespace than an explicit `namespace` is an error, as with kubectl.
    """
    prepared = Prepared()
    loaded = load_text(text, source)
    for error in loaded.errors:
        prepared.errors.append(_load_problem(error))
    for resource in loaded.ignored:
        prepared.errors.append(_problem(resource, "", _not_stored(resource.kind)))
    for resource in loaded.resources:
        _prepare_resource(resource, namespace, prepared)
    if not loaded.resources and not loaded.ignored and not loaded.errors:
        prepared.errors.append(Problem(source, 0, "", "", "no objects passed to apply"))
    return prepared


def _prepare_resource(resource: Resource, namespace: str | None, prepared: Prepared) -> None:
    kind = resource.kind
    if STORED_KINDS.get(kind.kind) != kind:
        prepared.errors.append(_problem(resource, "", _not_stored(kind)))
        return
    if kind.namespaced:
        if namespace and resource.namespace and resource.namespace != namespace:
            prepared.errors.append(
                _problem(
                    resource,
                    "metadata.namespace",
                    f"metadata.namespace: the document's namespace {resource.namespace!r} does not match the "
                    f"namespace {namespace!r} given with -n",
                )
            )
            return
        resource = resource.with_namespace(resource.namespace or namespace or DEFAULT_NAMESPACE)
    problems = _metadata_problems(resource)
    if kind in k.MODELLED_KINDS:
        for finding in validate(resource):
            target = prepared.errors if finding.is_error else prepared.warnings
            target.append(_problem(resource, finding.path, finding.message))
    elif kind == k.SERVICE:
        problems += _service_problems(resource.spec)
    elif kind == k.WORKLOAD_ENTRY:
        problems += _workload_entry_problems(resource.spec)
    prepared.errors += [_problem(resource, path, message) for path, message in problems]
    prepared.documents.append((kind.kind, kind.group, resource.namespace, resource.name))
    body = _stored_body(resource)
    if body is None:
        prepared.errors.append(
            _problem(resource, "", "the document has values JSON cannot hold (binary or sets)")
        )
        return
    if kind == k.NAMESPACE:
        prepared.writes.append(PutNamespace(resource.name, labels=dict(resource.labels)))
        return
    prepared.writes.append(PutNamespace(resource.namespace, ensure_only=True))
    prepared.writes.append(PutObject(kind.kind, resource.namespace, resource.name, body))


def _not_stored(kind: Kind) -> str:
    return f"{kind.kind} ({kind.api_group}) is not something meshd stores; it accepts {ACCEPTED}"


def _load_problem(error: LoadError) -> Problem:
    return Problem(error.path, error.line, "", "", error.message)


def _problem(resource: Resource, path: str, message: str) -> Problem:
    source = resource.source.path if resource.source else ""
    line = resource.line_of("{." + path + "}" if path else None)
    return Problem(source, line, resource.friendly_name, path, message)


def _stored_body(resource: Resource) -> dict[str, Any] | None:
    body: dict[str, Any] = thaw(resource.body)
    body.pop("status", None)
    metadata = body.setdefault("metadata", {})
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    if resource.kind.namespaced:
        metadata["namespace"] = resource.namespace
    try:
        json.dumps(body)
    except (TypeError, ValueError):
        return None
    return body


# -- checks of what the validation package does not cover ---------------------------------------------------


def _metadata_problems(resource: Resource) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    name = resource.name
    if resource.kind in (k.NAMESPACE, k.SERVICE):
        problem = dns1123_label(name) if name == name.lower() else f"{name!r} must be lower case"
        if problem:
            problems.append(("metadata.name", f"metadata.name: {problem}"))
    elif len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        problems.append(
            (
                "metadata.name",
                f"metadata.name: {name!r} is not a valid name: use lower case letters, digits, '-' and '.', "
                "starting and ending with a letter or digit",
            )
        )
    if resource.kind.namespaced:
        ns = resource.namespace
        problem = dns1123_label(ns) if ns == ns.lower() else f"{ns!r} must be lower case"
        if problem:
            problems.append(("metadata.namespace", f"metadata.namespace: {problem}"))
    problems += _label_problems(resource.labels, "metadata.labels")
    return problems


def _label_problems(labels: Any, path: str) -> list[tuple[str, str]]:
    if labels is None:
        return []
    if not isinstance(labels, Mapping):
        return [(path, f"{path}: must be a mapping of label names to string values")]
    problems: list[tuple[str, str]] = []
    for key, value in labels.items():
        where = f"{path}.{key}"
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append((where, f"{where}: labels map names to strings, found {value!r}; quote it"))
            continue
        problem = label_key(key) or label_value(value)
        if problem:
            problems.append((where, f"{where}: {problem}"))
    return problems


def _port_problem(value: Any, path: str) -> tuple[str, str] | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return (path, f"{path}: must be a port number from 1 to 65535, found {value!r}")
    problem = port_number(value)
    return (path, f"{path}: {problem}") if problem else None


def _service_problems(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    ports = spec.get("ports")
    if not isinstance(ports, (list, tuple)) or not ports:
        return [("spec.ports", "spec.ports: required: a list of ports, each with at least a port number")]
    names: set[str] = set()
    for index, port in enumerate(ports):
        where = f"spec.ports[{index}]"
        if not isinstance(port, Mapping):
            problems.append((where, f"{where}: must be a mapping with port, name, targetPort, protocol"))
            continue
        problem = _port_problem(port.get("port"), f"{where}.port")
        if problem:
            problems.append(problem)
        name = port.get("name")
        if name is None and len(ports) > 1:
            problems.append((f"{where}.name", f"{where}.name: required when a Service has several ports"))
        elif name is not None:
            if not isinstance(name, str) or dns1123_label(name) or name != name.lower():
                problems.append((f"{where}.name", f"{where}.name: {name!r} is not a valid port name"))
            elif name in names:
                problems.append((f"{where}.name", f"{where}.name: {name!r} is used by another port"))
            else:
                names.add(name)
        problems += _target_port_problems(port.get("targetPort"), f"{where}.targetPort")
        protocol = port.get("protocol")
        if protocol is not None and protocol not in _SERVICE_PROTOCOLS:
            problems.append(
                (f"{where}.protocol", f"{where}.protocol: must be one of TCP, UDP, SCTP, found {protocol!r}")
            )
    problems += _label_problems(spec.get("selector"), "spec.selector")
    return problems


def _target_port_problems(value: Any, where: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, str) and not value.isdigit():
        if _IANA_SERVICE_NAME.match(value) and any(c.isalpha() for c in value):
            return []
        return [(where, f"{where}: {value!r} is neither a port number nor a port name")]
    number = int(value) if isinstance(value, str) else value
    problem = _port_problem(number, where)
    return [problem] if problem else []


def _workload_entry_problems(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    address = spec.get("address")
    if not isinstance(address, str) or not address:
        problems.append(("spec.address", "spec.address: required: the workload's IP address or host name"))
    elif not is_ip_address(address) and fqdn(address):
        problems.append(("spec.address", f"spec.address: {ip_address(address)}, nor a host name"))
    ports = spec.get("ports")
    if ports is not None:
        if not isinstance(ports, Mapping):
            problems.append(("spec.ports", "spec.ports: must map port names to port numbers"))
        else:
            for name, number in ports.items():
                problem = _port_problem(number, f"spec.ports.{name}")
                if problem:
                    problems.append(problem)
    problems += _label_problems(spec.get("labels"), "spec.labels")
    account = spec.get("serviceAccount")
    if account is not None and (not isinstance(account, str) or not _DNS1123_SUBDOMAIN.match(account)):
        problems.append(("spec.serviceAccount", f"spec.serviceAccount: {account!r} is not a valid name"))
    weight = spec.get("weight")
    if weight is not None and (not isinstance(weight, int) or isinstance(weight, bool) or weight < 0):
        problems.append(("spec.weight", f"spec.weight: must be a whole number >= 0, found {weight!r}"))
    return problems


# -- output -------------------------------------------------------------------------------------------------


def object_document(stored: StoredObject) -> dict[str, Any]:
    """A stored resource as `get` shows it: as applied, with the server's resourceVersion and creation."""
    body: dict[str, Any] = thaw(stored.body)
    metadata = body.setdefault("metadata", {})
    metadata["resourceVersion"] = str(stored.revision)
    metadata["creationTimestamp"] = stored.created
    return body


def namespace_document(record: NamespaceRecord) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": record.name}
    if record.labels:
        metadata["labels"] = dict(record.labels)
    metadata["resourceVersion"] = str(record.revision)
    metadata["creationTimestamp"] = record.created
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata, "status": {"phase": "Active"}}


def kind_named(name: str) -> Kind | None:
    """A stored kind by its name, any case, singular or plural (`virtualservices`, `Service`)."""
    lowered = name.lower()
    for kind in STORED_KINDS.values():
        if lowered in (kind.kind.lower(), kind.kind.lower() + "s", kind.kind.lower() + "es"):
            return kind
    return None


def sorted_documents(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        documents,
        key=lambda d: (
            str(d.get("kind")),
            str(d["metadata"].get("namespace", "")),
            str(d["metadata"]["name"]),
        ),
    )
