"""`mesh-proxy`: the data plane (Envoy + pilot-agent's roles) as one asyncio process on uvloop.

listeners → route tables → clusters → endpoints, with mTLS between sidecars, retries, timeouts, faults,
load balancing and outlier detection on the request path. `main` is the command line; `server` the process
state; `downstream` and `upstream` the two protocol sides; `config`, `router` and `matchers` compile a pushed
xds.ProxyConfig; `cluster`, `lb` and `outlier` are the upstream runtime; `agent` talks to meshd.
"""
