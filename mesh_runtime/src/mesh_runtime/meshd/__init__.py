"""meshd, the control plane (Istio's istiod): CA, discovery and the config API in one asyncio process."""
