"""Errors a user can cause when starting a service."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A flag or environment variable has a value the service cannot use; the message says which and why."""
