"""schema.ValidationAnalyzer.<Kind>: schema errors (IST0106) and warnings (IST0133) for each Istio kind."""

from __future__ import annotations
