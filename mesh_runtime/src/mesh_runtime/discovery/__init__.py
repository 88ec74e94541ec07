"""Discovery (Istio's pilot): the config store, the service registry, immutable snapshots of both, pure
per-proxy config builders, and the push server that keeps every connected proxy up to date."""
