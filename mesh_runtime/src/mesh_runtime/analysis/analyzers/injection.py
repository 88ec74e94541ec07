"""injection.*: Istio's injection analyzers."""

from __future__ import annotations
