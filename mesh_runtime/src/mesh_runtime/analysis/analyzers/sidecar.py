"""sidecar.*: Istio's sidecar analyzers."""

from __future__ import annotations
