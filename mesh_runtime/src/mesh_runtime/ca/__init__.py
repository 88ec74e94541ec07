"""The mesh's CA (Istio's citadel): root, CSR signing into SPIFFE certificates, bootstrap tokens, and the
workload side (key, CSR, chain check, renewal time). A library: meshd serves it.
"""

from __future__ import annotations

from .authority import (
    DEFAULT_WORKLOAD_CERT_TTL,
    MAX_WORKLOAD_CERT_TTL,
    SELF_SIGNED_CA_CERT_TTL,
    CAConfigError,
    CAError,
    CertChain,
    CertGenError,
    CertificateAuthority,
    CSRError,
    TTLError,
)
from .client import (
    VerificationError,
    WorkloadCertificate,
    build_csr,
    generate_key,
    renewal_delay,
    renewal_time,
    verify_cert_chain,
    write_credentials,
)
from .identity import DEFAULT_TRUST_DOMAIN, Identity, IdentityError
from .metrics import CAMetrics
from .tokens import (
    Authorization,
    BootstrapTokens,
    IdentityPattern,
    IssuedToken,
    PatternError,
    TokenStoreError,
)

__all__ = [
    "DEFAULT_TRUST_DOMAIN",
    "DEFAULT_WORKLOAD_CERT_TTL",
    "MAX_WORKLOAD_CERT_TTL",
    "SELF_SIGNED_CA_CERT_TTL",
    "Authorization",
    "BootstrapTokens",
    "CAConfigError",
    "CAError",
    "CAMetrics",
    "CSRError",
    "CertChain",
    "CertGenError",
    "CertificateAuthority",
    "Identity",
    "IdentityError",
    "IdentityPattern",
    "IssuedToken",
    "PatternError",
    "TTLError",
    "TokenStoreError",
    "VerificationError",
    "WorkloadCertificate",
    "build_csr",
    "generate_key",
    "renewal_delay",
    "renewal_time",
    "verify_cert_chain",
    "write_credentials",
]
