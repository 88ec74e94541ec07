"""serviceentry.*: Istio's serviceentry analyzers."""

from __future__ import annotations
