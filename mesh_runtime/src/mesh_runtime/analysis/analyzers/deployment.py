"""deployment.*: Istio's deployment analyzers."""

from __future__ import annotations
