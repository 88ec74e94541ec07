"""Kinds as kubectl users write them: `virtualservice`, `virtualservices`, `vs`, `vs.networking.istio.io`."""

from __future__ import annotations

from ..command.errors import EXIT_USAGE, CommandError
from ..discovery.documents import STORED_KINDS, kind_named
from ..resources.kinds import Kind

#: kubectl's and Istio's short names.
SHORT_NAMES = {
    "vs": "VirtualService",
    "dr": "DestinationRule",
    "gw": "Gateway",
    "se": "ServiceEntry",
    "pa": "PeerAuthentication",
    "ap": "AuthorizationPolicy",
    "svc": "Service",
    "ns": "Namespace",
    "we": "WorkloadEntry",
}


#: Pods are the registry's workloads: `meshctl get` shows them; not stored, so never applied or deleted.
POD_NAMES = frozenset({"pods", "pod", "po"})


def is_pods(text: str) -> bool:
    """Whether KIND names pods: `pods`, `pod`, `po`, `Pod`."""
    return text.lower() in POD_NAMES


def resolve(text: str) -> Kind:
    name, _, group = text.partition(".")
    name = SHORT_NAMES.get(name.lower(), name)
    kind = kind_named(name)
    if kind is None or (group and group != kind.group):
        known = ", ".join(k.kind.lower() for k in STORED_KINDS.values())
        raise CommandError(f'the server doesn\'t have a resource type "{text}" (known: {known})', EXIT_USAGE)
    return kind


def plural(kind: Kind) -> str:
    """`virtualservices.networking.istio.io`, `services`: how kubectl names the resource in messages."""
    lowered = kind.kind.lower()
    word = lowered + ("es" if lowered.endswith("s") else "s")
    if lowered.endswith("y"):
        word = lowered[:-1] + "ies"
    return f"{word}.{kind.group}" if kind.group else word


def singular(kind: Kind) -> str:
    """`virtualservice.networking.istio.io`, `service`: how kubectl prefixes names in its output lines."""
    lowered = kind.kind.lower()
    return f"{lowered}.{kind.group}" if kind.group else lowered
