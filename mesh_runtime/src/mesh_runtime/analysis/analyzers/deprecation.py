"""deprecation.*: Istio's deprecation analyzers."""

from __future__ import annotations
