"""Schema validation of Istio's config kinds: types, enums, required fields, durations, hosts, regexes.

`validate(resource)` checks a resource of one of the kinds the mesh models (VirtualService, DestinationRule,
Gateway, ServiceEntry, Sidecar, PeerAuthentication, AuthorizationPolicy) against its schema and the semantic
rules Istio's own validation applies, and returns the findings: errors (the config would be rejected) and
warnings (it is accepted but probably not what was meant). Other kinds return no findings. It never raises.

`schema_for(kind)` returns the schema of a kind; `schema.field_paths()` lists every field path it knows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..resources import Resource
from ..resources import kinds as k
from ..resources.kinds import Kind
from . import destinationrule, gateway, security, serviceentry, sidecar, virtualservice
from .dsl import Node, Record, Report
from .findings import Finding, Level, format_path

__all__ = ["Finding", "KindSchema", "Level", "format_path", "schema_for", "validate"]

#: The only kind whose resources may carry the `istio.io/dry-run` annotation.
DRY_RUN_ANNOTATION = "istio.io/dry-run"


@dataclass(frozen=True, slots=True)
class KindSchema:
    """The schema of one kind's `spec`."""

    kind: Kind
    spec: Record

    def field_paths(self) -> Iterator[str]:
        """Every field path under spec: `spec.http`, `spec.http[]`, `spec.http[].match[].headers{}.exact`."""
        for path, _ in self.spec.walk("spec"):
            yield path

    def fields(self) -> Mapping[str, Node]:
        """Every field under spec by its path (as `field_paths` writes them)."""
        return dict(self.spec.walk("spec"))

    def check(self, resource: Resource) -> list[Finding]:
        report = Report(resource.namespace, resource.name, resource.annotations)
        _check_annotations(resource, report)
        spec = resource.body.get("spec")
        if spec is None:
            spec = {}
        self.spec.check(spec, ("spec",), report)
        return report.findings()


_SCHEMAS: Mapping[Kind, KindSchema] = {
    kind: KindSchema(kind, spec)
    for kind, spec in (
        (k.VIRTUAL_SERVICE, virtualservice.SPEC),
        (k.DESTINATION_RULE, destinationrule.SPEC),
        (k.GATEWAY, gateway.SPEC),
        (k.SERVICE_ENTRY, serviceentry.SPEC),
        (k.SIDECAR, sidecar.SPEC),
        (k.PEER_AUTHENTICATION, security.PEER_AUTHENTICATION),
        (k.AUTHORIZATION_POLICY, security.AUTHORIZATION_POLICY),
    )
}


def schema_for(kind: Kind) -> KindSchema | None:
    """The schema of a modelled kind; None for the kinds the mesh does not model."""
    return _SCHEMAS.get(kind)


def validate(resource: Resource) -> list[Finding]:
    """Every problem found in `resource`, in the order found; [] for kinds the mesh does not model."""
    schema = _SCHEMAS.get(resource.kind)
    if schema is None:
        return []
    try:
        return schema.check(resource)
    except RecursionError:
        return [Finding("error", "", "the resource is nested too deeply to validate")]
    except Exception as exc:  # a bug here must not take the caller down; say so instead
        return [
            Finding(
                "error",
                "",
                f"internal error while validating ({type(exc).__name__}: {exc}); please report it",
            )
        ]


def _check_annotations(resource: Resource, report: Report) -> None:
    value = resource.annotations.get(DRY_RUN_ANNOTATION)
    if value is None:
        return
    path: tuple[str | int, ...] = ("metadata", "annotations", DRY_RUN_ANNOTATION)
    if resource.kind != k.AUTHORIZATION_POLICY:
        report.error(path, f"{DRY_RUN_ANNOTATION} is only supported on AuthorizationPolicy; remove it")
        return
    spec: Any = resource.spec
    action = spec.get("action") if isinstance(spec.get("action"), str) else "ALLOW"
    if action not in ("ALLOW", "DENY"):
        report.error(path, f"{DRY_RUN_ANNOTATION} works only with action ALLOW or DENY, found {action}")
    elif value.lower() not in ("1", "t", "true", "0", "f", "false"):
        report.error(path, f'must be "true" or "false", found {value!r}')
