"""Istio's Bookinfo sample in Python: productpage, details, reviews and ratings, standard library only."""

from __future__ import annotations

__version__ = "0.1.0"
