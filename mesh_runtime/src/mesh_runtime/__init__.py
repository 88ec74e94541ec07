"""meshlab's service mesh runtime."""

__version__ = "0.1.0"

#: The Istio release whose config API, analyzer catalogue and documentation this runtime follows.
ISTIO_API_VERSION = "1.32"
