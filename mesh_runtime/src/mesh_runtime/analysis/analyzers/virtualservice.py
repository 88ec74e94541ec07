"""virtualservice.*: Istio's virtualservice analyzers."""

from __future__ import annotations
