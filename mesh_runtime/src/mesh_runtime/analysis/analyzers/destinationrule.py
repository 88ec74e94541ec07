"""destinationrule.*: Istio's destinationrule analyzers."""

from __future__ import annotations
