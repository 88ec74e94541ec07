"""VirtualService HTTP routes → xds Routes: ordered, first match wins, every HTTPRoute feature translated.

Pure functions of a VirtualService and the context it is built for (which port, which gateway or the mesh,
which proxy). Conditions that depend only on the proxy building the config — `port`, `gateways`,
`sourceLabels`, `sourceNamespace` — are decided here, as Istio decides them: a match block that cannot apply
to this proxy is dropped, and a route whose every match block was dropped is left out.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...resources import Resource
from ...resources import fields as f
from ...resources.hosts import MESH_GATEWAY, gateway_reference
from ...xds import (
    CorsPolicy,
    DirectResponse,
    FaultAbort,
    FaultDelay,
    HeaderMatch,
    HeaderOperations,
    Mirror,
    Node,
    Redirect,
    Retry,
    Rewrite,
    Route,
    RouteMatch,
    StringMatch,
    WeightedCluster,
    cluster_name,
)
from ...xds.types import DEFAULT_RETRIABLE_STATUS_CODES, DEFAULT_RETRY_ON
from .. import spec_values
from ..snapshot import Snapshot

#: Pilot's retry policy when a route sets none (route/retry/retry.go): 2 retries on these conditions.
#: Headers Istio ignores in `match.headers` (they have their own match fields).
_PSEUDO_HEADERS = frozenset({"uri", "scheme", "method", "authority", ":path", ":method", ":authority"})


def default_retry() -> Retry:
    return Retry()


@dataclass(frozen=True, slots=True)
class RouteContext:
    """What a route is built for: a port of a route configuration, the mesh or one gateway, one proxy."""

    snapshot: Snapshot
    node: Node
    port: int
    #: `mesh` for sidecars, `<namespace>/<name>` of the Gateway for gateway routes.
    gateway: str = MESH_GATEWAY


def default_route(cluster: str) -> Route:
    """The route of a service without a VirtualService: everything to its cluster, with default retries."""
    return Route(name="default", clusters=(WeightedCluster(cluster, 100),), retry=default_retry())


def http_routes(service: Resource, context: RouteContext) -> tuple[Route, ...]:
    """The routes of a VirtualService's `http` list for `context`, in order."""
    routes: list[Route] = []
    for index, http in enumerate(f.mappings(service.spec.get("http"))):
        route = http_route(http, index, service, context)
        if route is not None:
            routes.append(route)
    return tuple(routes)


def http_route(http: Mapping[str, Any], index: int, service: Resource, context: RouteContext) -> Route | None:
    namespace = service.namespace
    blocks = f.mappings(http.get("match"))
    matches = tuple(m for m in (route_match(b, namespace, context) for b in blocks) if m is not None)
    if blocks and not matches:
        return None
    if f.mapping(http.get("delegate")):
        return None  # delegate VirtualServices are not supported: the route is left out
    fault = f.mapping(http.get("fault"))
    headers = f.mapping(http.get("headers"))
    return Route(
        name=f.text(http.get("name")) or f"{service.full_name}.{index}",
        matches=matches,
        clusters=weighted_clusters(http, namespace, context),
        redirect=redirect(f.mapping(http.get("redirect"))),
        direct_response=direct_response(f.mapping(http.get("directResponse"))),
        rewrite=rewrite(f.mapping(http.get("rewrite"))),
        timeout=_positive(spec_values.seconds(http.get("timeout"))),
        retry=retry_policy(http.get("retries")),
        fault_delay=fault_delay(f.mapping(fault.get("delay"))),
        fault_abort=fault_abort(f.mapping(fault.get("abort"))),
        mirrors=mirrors(http, namespace, context),
        cors=cors_policy(f.mapping(http.get("corsPolicy"))),
        request_headers=header_operations(headers.get("request")),
        response_headers=header_operations(headers.get("response")),
        origin=service.full_name,
    )


# -- matching ---------------------------------------------------------------------------------------------


def route_match(block: Mapping[str, Any], namespace: str, context: RouteContext) -> RouteMatch | None:
    """One HTTPMatchRequest, or None when it cannot apply to this proxy, port or gateway."""
    port = f.integer(block.get("port"))
    if port is not None and port != context.port:
        return None
    gateways = f.strings(block.get("gateways"))
    if gateways and context.gateway not in {resolve_gateway(g, namespace) for g in gateways}:
        return None
    source_labels = f.string_map(block.get("sourceLabels"))
    if source_labels and not f.labels_match(source_labels, context.node.labels):
        return None
    source_namespace = f.text(block.get("sourceNamespace"))
    if source_namespace and source_namespace != context.node.namespace:
        return None
    ignore_uri_case = f.boolean(block.get("ignoreUriCase")) is True
    return RouteMatch(
        name=f.text(block.get("name")),
        uri=string_match(block.get("uri"), ignore_case=ignore_uri_case),
        scheme=string_match(block.get("scheme")),
        method=string_match(block.get("method")),
        authority=string_match(block.get("authority")),
        headers=header_matches(block.get("headers"), invert=False)
        + header_matches(block.get("withoutHeaders"), invert=True),
        query_params=header_matches(block.get("queryParams"), invert=False, lower=False),
        port=port,
        source_labels=source_labels,
        source_namespace=source_namespace,
    )


def resolve_gateway(reference: str, namespace: str) -> str:
    """A `gateways` entry as `ns/name` (a bare name is in the VirtualService's namespace); `mesh` stays."""
    if reference == MESH_GATEWAY:
        return MESH_GATEWAY
    gateway_namespace, name = gateway_reference(reference, namespace)
    return f"{gateway_namespace}/{name}"


def string_match(value: Any, ignore_case: bool = False) -> StringMatch | None:
    """Istio's StringMatch (`exact`, `prefix`, `regex`); an empty one means "present"; None when absent."""
    if not isinstance(value, Mapping):
        return None
    for kind in ("exact", "prefix", "regex"):
        text = value.get(kind)
        if isinstance(text, str):
            return StringMatch(kind, text, ignore_case)
    return StringMatch("present", "", ignore_case)


def header_matches(value: Any, invert: bool, lower: bool = True) -> tuple[HeaderMatch, ...]:
    found: list[HeaderMatch] = []
    for name, spec in f.mapping(value).items():
        if not isinstance(name, str) or (lower and name.lower() in _PSEUDO_HEADERS):
            continue
        match = string_match(spec) or StringMatch("present")
        found.append(HeaderMatch(name.lower() if lower else name, match, invert))
    return tuple(found)


# -- destinations -----------------------------------------------------------------------------------------


def destination_cluster(destination: Mapping[str, Any], namespace: str, context: RouteContext) -> str:
    """The outbound cluster a Destination names: `outbound|<port>|<subset>|<fqdn>`."""
    host = context.snapshot.fqdn(f.text(destination.get("host")), namespace)
    port = f.integer(f.mapping(destination.get("port")).get("number"))
    if port is None:
        # A destination without a port: the service's only port, else the port being routed.
        service = context.snapshot.service(host)
        port = service.ports[0].port if service is not None and len(service.ports) == 1 else context.port
    return cluster_name("outbound", port, f.text(destination.get("subset")), host)


def weighted_clusters(
    http: Mapping[str, Any], namespace: str, context: RouteContext
) -> tuple[WeightedCluster, ...]:
    targets = f.mappings(http.get("route"))
    clusters: list[WeightedCluster] = []
    for target in targets:
        destination = f.mapping(target.get("destination"))
        if not f.text(destination.get("host")):
            continue
        weight = 100 if len(targets) == 1 else (f.integer(target.get("weight")) or 0)
        headers = f.mapping(target.get("headers"))
        clusters.append(
            WeightedCluster(
                destination_cluster(destination, namespace, context),
                weight,
                request_headers=header_operations(headers.get("request")),
                response_headers=header_operations(headers.get("response")),
            )
        )
    return tuple(clusters)


def mirrors(http: Mapping[str, Any], namespace: str, context: RouteContext) -> tuple[Mirror, ...]:
    found: list[Mirror] = []
    single = f.mapping(http.get("mirror"))
    if f.text(single.get("host")):
        legacy = f.integer(f.mapping(http.get("mirrorPercent")).get("value"))
        if legacy is None:
            legacy = f.integer(http.get("mirrorPercent"))
        percent = f.number(f.mapping(http.get("mirrorPercentage")).get("value"))
        if percent is None:
            percent = float(legacy) if legacy is not None else 100.0
        found.append(Mirror(destination_cluster(single, namespace, context), percent))
    for entry in f.mappings(http.get("mirrors")):
        destination = f.mapping(entry.get("destination"))
        if f.text(destination.get("host")):
            percent = f.number(f.mapping(entry.get("percentage")).get("value"))
            found.append(
                Mirror(
                    destination_cluster(destination, namespace, context),
                    100.0 if percent is None else percent,
                )
            )
    return tuple(found)


# -- actions and policies ---------------------------------------------------------------------------------


def redirect(spec: Mapping[str, Any]) -> Redirect | None:
    if not spec:
        return None
    return Redirect(
        uri=f.text(spec.get("uri")),
        authority=f.text(spec.get("authority")),
        port=f.integer(spec.get("port")),
        scheme=f.text(spec.get("scheme")),
        response_code=f.integer(spec.get("redirectCode")) or 301,
    )


def direct_response(spec: Mapping[str, Any]) -> DirectResponse | None:
    status = f.integer(spec.get("status"))
    if status is None:
        return None
    body = f.mapping(spec.get("body"))
    text = f.text(body.get("string"))
    encoded = f.text(body.get("bytes"))
    if not text and encoded:
        try:
            text = base64.b64decode(encoded, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            text = ""
    return DirectResponse(status, text)


def rewrite(spec: Mapping[str, Any]) -> Rewrite | None:
    if not spec:
        return None
    regex = f.mapping(spec.get("uriRegexRewrite"))
    uri_regex = None
    if isinstance(regex.get("match"), str) and isinstance(regex.get("rewrite"), str):
        uri_regex = (regex["match"], regex["rewrite"])
    uri = spec.get("uri")
    authority = spec.get("authority")
    return Rewrite(
        uri=uri if isinstance(uri, str) else None,
        authority=authority if isinstance(authority, str) else None,
        uri_regex=uri_regex,
    )


def retry_policy(value: Any) -> Retry | None:
    """HTTPRetry → Retry; absent → pilot's default (2 retries); `attempts: 0` → no retries."""
    if not isinstance(value, Mapping):
        return default_retry()
    attempts = f.integer(value.get("attempts"))
    if attempts is None:
        attempts = 2
    if attempts <= 0:
        return None
    retry_on = list(DEFAULT_RETRY_ON)
    codes = list(DEFAULT_RETRIABLE_STATUS_CODES)
    text = f.text(value.get("retryOn"))
    if text:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        codes = [int(p) for p in parts if p.isdigit()]
        retry_on = [p for p in parts if not p.isdigit()]
        if codes and "retriable-status-codes" not in retry_on:
            retry_on.append("retriable-status-codes")
    return Retry(
        attempts=attempts,
        per_try_timeout=_positive(spec_values.seconds(value.get("perTryTimeout"))),
        retry_on=tuple(retry_on),
        retriable_status_codes=tuple(codes),
        backoff=_positive(spec_values.seconds(value.get("backoff"))),
    )


def fault_delay(spec: Mapping[str, Any]) -> FaultDelay | None:
    delay = spec_values.seconds(spec.get("fixedDelay"))
    if delay is None:
        return None  # exponentialDelay is not supported
    return FaultDelay(delay, spec_values.percentage(spec, default=0.0))


def fault_abort(spec: Mapping[str, Any]) -> FaultAbort | None:
    status = f.integer(spec.get("httpStatus"))
    if status is None:
        return None  # grpcStatus and http2Error aborts are not supported
    return FaultAbort(status, spec_values.percentage(spec, default=0.0))


def header_operations(value: Any) -> HeaderOperations | None:
    spec = f.mapping(value)
    if not spec:
        return None
    return HeaderOperations(
        set=f.string_map(spec.get("set")),
        add=f.string_map(spec.get("add")),
        remove=f.strings(spec.get("remove")),
    )


def cors_policy(spec: Mapping[str, Any]) -> CorsPolicy | None:
    """Istio's corsPolicy as Envoy's per-route CORS policy. `allowOrigins` wins over the deprecated
    `allowOrigin` (exact origins); `maxAge` keeps its whole seconds when the proxy sends it."""
    if not spec:
        return None
    listed = f.mappings(spec.get("allowOrigins"))
    if listed:
        matches = (string_match(origin) for origin in listed)
        origins = tuple(m for m in matches if m is not None and m.kind != "present")
    else:
        origins = tuple(StringMatch("exact", origin) for origin in f.strings(spec.get("allowOrigin")))
    return CorsPolicy(
        allow_origins=origins,
        allow_methods=f.strings(spec.get("allowMethods")),
        allow_headers=f.strings(spec.get("allowHeaders")),
        expose_headers=f.strings(spec.get("exposeHeaders")),
        max_age=spec_values.seconds(spec.get("maxAge")),
        allow_credentials=f.boolean(spec.get("allowCredentials")),
        unmatched_preflights="IGNORE" if f.text(spec.get("unmatchedPreflights")) == "IGNORE" else "FORWARD",
    )


def _positive(value: float | None) -> float | None:
    """A duration that means something: zero (Istio: disabled) reads as not set."""
    return value if value else None
