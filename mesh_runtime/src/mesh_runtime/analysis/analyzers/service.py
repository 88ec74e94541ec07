"""service.*: Istio's service analyzers."""

from __future__ import annotations
