"""Every analyzer, one module per Istio analyzer package; importing this registers them all."""

from . import (  # noqa: F401
    annotations,
    auth,
    deployment,
    deprecation,
    destinationrule,
    gateway,
    injection,
    schema,
    service,
    serviceentry,
    sidecar,
    virtualservice,
)
