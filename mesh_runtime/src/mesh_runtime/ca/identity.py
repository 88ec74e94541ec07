"""SPIFFE identities as Istio writes them: `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.

AuthorizationPolicy principals are the same identity without the scheme: `cluster.local/ns/default/sa/x`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEME = "spiffe"
URI_PREFIX = f"{SCHEME}://"
NAMESPACE_SEGMENT = "ns"
SERVICE_ACCOUNT_SEGMENT = "sa"
DEFAULT_TRUST_DOMAIN = "cluster.local"

_EXPECTED_URI = (
    f"{URI_PREFIX}<trust domain>/{NAMESPACE_SEGMENT}/<namespace>/{SERVICE_ACCOUNT_SEGMENT}/<service account>"
)
_EXPECTED_PRINCIPAL = (
    f"<trust domain>/{NAMESPACE_SEGMENT}/<namespace>/{SERVICE_ACCOUNT_SEGMENT}/<service account>"
)

# SPIFFE trust domain names: lowercase letters, digits, dots, dashes and underscores.
_TRUST_DOMAIN = re.compile(r"[a-z0-9._-]+")
# Kubernetes names: a namespace is a DNS-1123 label, a service account a DNS-1123 subdomain.
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_TRUST_DOMAIN = 255
_MAX_LABEL = 63
_MAX_SUBDOMAIN = 253


class IdentityError(ValueError):
    """A SPIFFE identity or principal that is not `spiffe://<trust domain>/ns/<ns>/sa/<sa>`."""


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """A workload identity: the service account `service_account` in `namespace`, in `trust_domain`."""

    trust_domain: str
    namespace: str
    service_account: str

    def __post_init__(self) -> None:
        validate_trust_domain(self.trust_domain)
        validate_namespace(self.namespace)
        validate_service_account(self.service_account)

    @classmethod
    def for_service_account(
        cls, namespace: str, service_account: str, trust_domain: str = DEFAULT_TRUST_DOMAIN
    ) -> Identity:
        return cls(trust_domain, namespace, service_account)

    @classmethod
    def parse(cls, uri: str) -> Identity:
        """Read `spiffe://<trust domain>/ns/<ns>/sa/<sa>`; anything else raises IdentityError."""
        if not uri.startswith(URI_PREFIX):
            raise IdentityError(f"identity {uri!r} is not a SPIFFE URI: expected {_EXPECTED_URI}")
        return cls._from_path(uri, uri[len(URI_PREFIX) :], _EXPECTED_URI)

    @classmethod
    def parse_principal(cls, principal: str) -> Identity:
        """Read an AuthorizationPolicy principal, `<trust domain>/ns/<ns>/sa/<sa>` (no scheme)."""
        if principal.startswith(URI_PREFIX):
            raise IdentityError(
                f"principal {principal!r} has the {URI_PREFIX} scheme; principals are written without it: "
                f"{_EXPECTED_PRINCIPAL}"
            )
        return cls._from_path(principal, principal, _EXPECTED_PRINCIPAL)

    @classmethod
    def _from_path(cls, text: str, path: str, expected: str) -> Identity:
        segments = path.split("/")
        if len(segments) != 5 or segments[1] != NAMESPACE_SEGMENT or segments[3] != SERVICE_ACCOUNT_SEGMENT:
            raise IdentityError(f"identity {text!r} is not in SPIFFE form: expected {expected}")
        try:
            return cls(segments[0], segments[2], segments[4])
        except IdentityError as error:
            raise IdentityError(f"identity {text!r}: {error}") from None

    @property
    def uri(self) -> str:
        """`spiffe://cluster.local/ns/default/sa/bookinfo-productpage`: what a certificate's URI SAN holds."""
        return f"{URI_PREFIX}{self.principal}"

    @property
    def principal(self) -> str:
        """`cluster.local/ns/default/sa/bookinfo-productpage`: the form AuthorizationPolicy uses."""
        return (
            f"{self.trust_domain}/{NAMESPACE_SEGMENT}/{self.namespace}"
            f"/{SERVICE_ACCOUNT_SEGMENT}/{self.service_account}"
        )

    def __str__(self) -> str:
        return self.uri


def validate_trust_domain(trust_domain: str) -> None:
    if not trust_domain:
        raise IdentityError("the trust domain is empty")
    if len(trust_domain) > _MAX_TRUST_DOMAIN or not _TRUST_DOMAIN.fullmatch(trust_domain):
        raise IdentityError(
            f"trust domain {trust_domain!r} is not valid: use at most {_MAX_TRUST_DOMAIN} lowercase letters, "
            "digits, '.', '-' or '_' (for example cluster.local)"
        )


def validate_namespace(namespace: str) -> None:
    if not namespace:
        raise IdentityError("the namespace is empty")
    if len(namespace) > _MAX_LABEL or not _DNS1123_LABEL.fullmatch(namespace):
        raise IdentityError(
            f"namespace {namespace!r} is not a valid Kubernetes namespace name: at most {_MAX_LABEL} "
            "lowercase letters, digits or '-', starting and ending with a letter or digit"
        )


def validate_service_account(service_account: str) -> None:
    if not service_account:
        raise IdentityError("the service account is empty")
    if len(service_account) > _MAX_SUBDOMAIN or not _DNS1123_SUBDOMAIN.fullmatch(service_account):
        raise IdentityError(
            f"service account {service_account!r} is not a valid Kubernetes name: at most {_MAX_SUBDOMAIN} "
            "lowercase letters, digits, '-' or '.', each dot-separated part starting and ending with a "
            "letter or digit"
        )
