"""auth.*: Istio's auth analyzers."""

from __future__ import annotations
