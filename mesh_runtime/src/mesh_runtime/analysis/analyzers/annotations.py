"""annotations.*: Istio's annotations analyzers."""

from __future__ import annotations
