"""VirtualService (networking.istio.io): schema and the checks Istio makes of routes, hosts and gateways."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..resources import hosts as host_names
from ..resources.fields import indexed_strings, mapping, sequence, text
from . import formats
from .common import (
    BOOLEAN,
    DESTINATION,
    DURATION,
    HEADERS,
    INT32,
    PERCENT,
    STRING,
    STRING_MATCH,
    STRINGS,
    UINT32,
    URI_MATCH,
    WITHOUT_HEADER_MATCH,
    check_each,
    check_export_to,
    check_labels,
    is_set,
)
from .dsl import Choice, Integer, ListOf, MapOf, Node, Number, Report, Text, as_integer, record
from .findings import Path, quoted
from .reachability import analyze_routes

MESH_GATEWAY = host_names.MESH_GATEWAY
JWT_CLAIM_PREFIX = "@request.auth.claims"
KB = 1024
MB = 1024 * KB

#: HTTP methods CORS allowMethods may name.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE"})
#: Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on policies.
RETRY_ON_POLICIES = frozenset(
    {
        "5xx",
        "gateway-error",
        "reset",
        "reset-before-request",
        "connect-failure",
        "retriable-4xx",
        "refused-stream",
        "retriable-status-codes",
        "retriable-headers",
        "envoy-ratelimited",
        "http3-post-connect-failure",
        "cancelled",
        "deadline-exceeded",
        "internal",
        "resource-exhausted",
        "unavailable",
    }
)
#: HTTP status codes that have a standard reason phrase (retryOn accepts them).
KNOWN_HTTP_STATUSES = frozenset(
    [
        100,
        101,
        102,
        103,
        *range(200, 209),
        226,
        *range(300, 306),
        307,
        308,
        *range(400, 419),
        *range(421, 427),
    ]
    + [428, 429, 431, 451, *range(500, 509), 510, 511]
)
GRPC_STATUSES = frozenset(
    {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    }
)
_SECONDS_DURATION = Text((formats.duration(precision_ns=1_000_000_000),))
_PORT_DIGITS = re.compile(r"[0-9]")
_HOST_LETTERS = re.compile(r"[a-zA-Z]")

# ---- matches -------------------------------------------------------------------------------------


def _check_http_match(match: Mapping[str, Any], path: Path, report: Report) -> None:
    for section in ("headers", "withoutHeaders"):
        for name, value in mapping(match.get(section)).items():
            if not isinstance(name, str):
                continue
            if not name.startswith(JWT_CLAIM_PREFIX):
                problem = formats.header_name(name)
                if problem:
                    report.error((*path, section, name), problem)
            if value is None and section == "headers":
                report.error(
                    (*path, section, name), "a header match must not be null; use {} to match presence"
                )
    port = as_integer(match.get("port"))
    if port:
        _check_port(report, (*path, "port"), port)
    check_labels(report, (*path, "sourceLabels"), match.get("sourceLabels"))
    check_gateway_names(report, (*path, "gateways"), match.get("gateways"))
    namespace = match.get("sourceNamespace")
    if isinstance(namespace, str) and namespace and not formats.is_dns1123_label(namespace):
        report.error((*path, "sourceNamespace"), f"must be a namespace name, found {quoted(namespace)}")


def _check_port(report: Report, path: Path, port: int) -> None:
    problem = formats.port_number(port)
    if problem:
        report.error(path, problem)


HTTP_MATCH = record(
    {
        "authority": STRING_MATCH,
        "gateways": STRINGS,
        "headers": MapOf(STRING_MATCH),
        "ignoreUriCase": BOOLEAN,
        "method": STRING_MATCH,
        "name": STRING,
        "port": UINT32,
        "queryParams": MapOf(STRING_MATCH),
        "scheme": STRING_MATCH,
        "sourceLabels": MapOf(STRING),
        "sourceNamespace": STRING,
        "statPrefix": STRING,
        "uri": URI_MATCH,
        "withoutHeaders": MapOf(WITHOUT_HEADER_MATCH),
    },
    rules=(_check_http_match,),
)


def _check_l4_match(match: Mapping[str, Any], path: Path, report: Report) -> None:
    check_each(report, (*path, "destinationSubnets"), match.get("destinationSubnets"), formats.ip_or_cidr)
    port = as_integer(match.get("port"))
    if port:
        _check_port(report, (*path, "port"), port)
    check_labels(report, (*path, "sourceLabels"), match.get("sourceLabels"))
    check_gateway_names(report, (*path, "gateways"), match.get("gateways"))


_L4_MATCH_FIELDS: dict[str, Node] = {
    "destinationSubnets": STRINGS,
    "gateways": STRINGS,
    "port": UINT32,
    "sourceLabels": MapOf(STRING),
    "sourceNamespace": STRING,
}
L4_MATCH = record({**_L4_MATCH_FIELDS, "sourceSubnet": STRING}, rules=(_check_l4_match,))
TLS_MATCH = record(
    {**_L4_MATCH_FIELDS, "sniHosts": STRINGS}, required=("sniHosts",), rules=(_check_l4_match,)
)

# ---- HTTP route parts ----------------------------------------------------------------------------


def _check_cors(cors: Mapping[str, Any], path: Path, report: Report) -> None:
    for index, origin in enumerate(sequence(cors.get("allowOrigins"))):
        origin = mapping(origin)
        value = next((origin[k] for k in ("exact", "prefix", "regex") if origin.get(k) is not None), "")
        if value == "":
            report.error(
                (*path, "allowOrigins", index),
                "must set exact, prefix or regex to a non-empty origin to allow",
            )
    for index, method in indexed_strings(cors.get("allowMethods")):
        if method not in HTTP_METHODS:
            report.error(
                (*path, "allowMethods", index),
                f"{quoted(method)} is not an HTTP method; use one of {', '.join(sorted(HTTP_METHODS))}",
            )
    for section in ("allowHeaders", "exposeHeaders"):
        for index, name in indexed_strings(cors.get(section)):
            problem = None if name == "*" else formats.header_name(name)
            if problem:
                report.error((*path, section, index), problem)


CORS_POLICY = record(
    {
        "allowCredentials": BOOLEAN,
        "allowHeaders": STRINGS,
        "allowMethods": STRINGS,
        "allowOrigin": STRINGS,
        "allowOrigins": ListOf(STRING_MATCH),
        "exposeHeaders": STRINGS,
        "maxAge": _SECONDS_DURATION,
        "unmatchedPreflights": Choice(("UNSPECIFIED", "FORWARD", "IGNORE")),
    },
    rules=(_check_cors,),
)


def _check_abort(abort: Mapping[str, Any], path: Path, report: Report) -> None:
    status = as_integer(abort.get("httpStatus"))
    if is_set(abort, "grpcStatus"):
        grpc = abort.get("grpcStatus")
        if isinstance(grpc, str) and grpc not in GRPC_STATUSES:
            report.error(
                (*path, "grpcStatus"), f"{quoted(grpc)} is not a gRPC status code name (such as NOT_FOUND)"
            )
    elif is_set(abort, "http2Error"):
        report.error((*path, "http2Error"), "HTTP/2 error fault injection is not supported; use httpStatus")
    elif status is not None:
        if status < 200 or status > 600:
            report.error((*path, "httpStatus"), f"must be an HTTP status from 200 to 599, found {status}")
    elif not is_set(abort, "httpStatus"):
        report.warning(path, "the abort sets no error: set httpStatus or grpcStatus")


def _check_delay(delay: Mapping[str, Any], path: Path, report: Report) -> None:
    if is_set(delay, "exponentialDelay"):
        report.error((*path, "exponentialDelay"), "exponentialDelay is not supported; use fixedDelay")


def _check_fault(fault: Mapping[str, Any], path: Path, report: Report) -> None:
    if not is_set(fault, "abort") and not is_set(fault, "delay"):
        report.error(path, "a fault must have an abort, a delay, or both")


FAULT = record(
    {
        "abort": record(
            {"grpcStatus": STRING, "http2Error": STRING, "httpStatus": INT32, "percentage": PERCENT},
            one_of=(("httpStatus", "grpcStatus", "http2Error"),),
            rules=(_check_abort,),
        ),
        "delay": record(
            {"exponentialDelay": DURATION, "fixedDelay": DURATION, "percent": INT32, "percentage": PERCENT},
            one_of=(("fixedDelay", "exponentialDelay"),),
            rules=(_check_delay,),
        ),
    },
    rules=(_check_fault,),
)


def _check_redirect(redirect: Mapping[str, Any], path: Path, report: Report) -> None:
    targets = ("uri", "authority", "port", "derivePort", "scheme", "prefixRewrite")
    if not any(redirect.get(name) not in (None, "") for name in targets):
        report.error(path, "a redirect must set at least one of uri, authority, scheme or port")
        return
    code = as_integer(redirect.get("redirectCode"))
    if code and not 300 <= code <= 399:
        report.error((*path, "redirectCode"), f"must be a redirect status (3xx), found {code}")
    scheme = redirect.get("scheme")
    if isinstance(scheme, str) and scheme not in ("", "http", "https"):
        report.error((*path, "scheme"), f'must be "http" or "https", found {quoted(scheme)}')
    port = as_integer(redirect.get("port"))
    if port:
        _check_port(report, (*path, "port"), port)


REDIRECT = record(
    {
        "authority": STRING,
        "derivePort": Choice(("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT")),
        "port": UINT32,
        "prefixRewrite": STRING,
        "redirectCode": UINT32,
        "scheme": STRING,
        "uri": STRING,
    },
    one_of=(("port", "derivePort"),),
    rules=(_check_redirect,),
)


def _base64_problem(value: str) -> str | None:
    """Why `value` is not base64 (a direct response's `body.bytes`), or None."""
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "must be base64-encoded bytes"
    return None


def _check_direct_response(response: Mapping[str, Any], path: Path, report: Report) -> None:
    status = as_integer(response.get("status"))
    if status is not None and (status < 200 or status > 600):
        report.error((*path, "status"), f"must be an HTTP status from 200 to 599, found {status}")
    body = mapping(response.get("body"))
    size = len(text(body.get("string")).encode("utf-8")) + len(text(body.get("bytes"))) * 3 // 4
    if size > MB:
        report.error((*path, "body"), f"a direct response body must be smaller than 1MB, found {size} bytes")
    elif size > 100 * KB:
        report.warning(
            (*path, "body"), f"a large direct response body ({size} bytes) slows config distribution"
        )


DIRECT_RESPONSE = record(
    {
        "body": record({"bytes": Text((_base64_problem,)), "string": STRING}, one_of=(("string", "bytes"),)),
        "status": UINT32,
    },
    required=("status",),
    rules=(_check_direct_response,),
)


def _check_retries(retries: Mapping[str, Any], path: Path, report: Report) -> None:
    attempts = as_integer(retries.get("attempts"))
    if attempts is not None and attempts < 0:
        report.error((*path, "attempts"), f"must be 0 or more, found {attempts}")
    configured = [name for name in ("perTryTimeout", "retryOn", "retryRemoteLocalities") if retries.get(name)]
    if not attempts and configured:
        report.error(
            path,
            f"{', '.join(configured)} set while attempts is 0 (retries disabled); "
            "set attempts or remove them",
        )
    retry_on = retries.get("retryOn")
    if isinstance(retry_on, str) and retry_on:
        for policy in retry_on.split(","):
            status = int(policy) if policy.isdigit() and len(policy) < 4 else None
            if policy not in RETRY_ON_POLICIES and status not in KNOWN_HTTP_STATUSES:
                report.error(
                    (*path, "retryOn"),
                    f"{quoted(policy)} is not a retry policy: use HTTP status codes or Envoy's policies "
                    "(5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, ...), "
                    "separated by commas without spaces",
                )


RETRIES = record(
    {
        "attempts": INT32,
        "backoff": DURATION,
        "perTryTimeout": DURATION,
        "retryIgnorePreviousHosts": BOOLEAN,
        "retryOn": STRING,
        "retryRemoteLocalities": BOOLEAN,
    },
    rules=(_check_retries,),
)


def _check_rewrite(rewrite: Mapping[str, Any], path: Path, report: Report) -> None:
    has_uri = bool(rewrite.get("uri"))
    regex_rewrite = rewrite.get("uriRegexRewrite")
    if has_uri and regex_rewrite is not None:
        report.error(path, "a rewrite may set uri or uriRegexRewrite, not both")
    elif not has_uri and regex_rewrite is None and not rewrite.get("authority"):
        report.error(path, "a rewrite must set uri, uriRegexRewrite or authority")
    if isinstance(regex_rewrite, Mapping):
        where = (*path, "uriRegexRewrite")
        if not regex_rewrite.get("match") or not regex_rewrite.get("rewrite"):
            report.error(where, "uriRegexRewrite needs both match and rewrite")
        elif isinstance(regex_rewrite.get("match"), str):
            problem = formats.regex(regex_rewrite["match"])
            if problem:
                report.error((*where, "match"), problem)


REWRITE = record(
    {
        "authority": STRING,
        "uri": STRING,
        "uriRegexRewrite": record({"match": STRING, "rewrite": STRING}),
    },
    rules=(_check_rewrite,),
)


def _check_weights(route: Sequence[Any], path: Path, report: Report) -> None:
    total = 0
    for index, destination in enumerate(route):
        weight = as_integer(mapping(destination).get("weight"))
        if weight is None:
            continue
        if weight < 0:
            report.error((*path, index, "weight"), f"must be 0 or more, found {weight}")
        total += weight
    if len(route) > 1 and total == 0:
        report.error(path, "the destination weights add up to 0: give at least one destination a weight")


WEIGHT = Integer(0, 2**31 - 1, "a weight (an integer of 0 or more)")
HTTP_ROUTE_DESTINATION = record(
    {"destination": DESTINATION, "headers": HEADERS, "weight": INT32}, required=("destination",)
)
ROUTE_DESTINATION = record({"destination": DESTINATION, "weight": INT32}, required=("destination",))
MIRROR_PERCENTAGE = record({"value": Number(0, 100)})


def _check_http_route(route: Mapping[str, Any], path: Path, report: Report) -> None:
    if route.get("mirror") is not None and sequence(route.get("mirrors")):
        report.error(path, "set mirror or mirrors, not both")
    for name in ("mirrorPercent", "mirror_percent"):
        value = as_integer(route.get(name))
        if value is None:
            continue
        if value > 100:
            report.error((*path, name), f"must be a percentage from 0 to 100, found {value}")
        report.warning((*path, name), f"{name} is deprecated; use mirrorPercentage")
    _check_authority_rewrite(route, path, report)
    _check_weights(sequence(route.get("route")), (*path, "route"), report)


def _check_authority_rewrite(route: Mapping[str, Any], path: Path, report: Report) -> None:
    current = text(mapping(route.get("rewrite")).get("authority"))
    request = mapping(mapping(route.get("headers")).get("request"))
    for section in ("set", "add"):
        for name, value in mapping(request.get(section)).items():
            if not isinstance(name, str) or name.lower() not in (":authority", "host"):
                continue
            if current:
                report.error(
                    (*path, "headers", "request", section, name),
                    f"the authority is already rewritten to {quoted(current)}; set it in one place only",
                )
                return
            current = text(value)


HTTP_ROUTE = record(
    {
        "corsPolicy": CORS_POLICY,
        "delegate": record({"name": STRING, "namespace": STRING}),
        "directResponse": DIRECT_RESPONSE,
        "fault": FAULT,
        "headers": HEADERS,
        "match": ListOf(HTTP_MATCH),
        "mirror": DESTINATION,
        "mirror_percent": UINT32,
        "mirrorPercent": UINT32,
        "mirrorPercentage": MIRROR_PERCENTAGE,
        "mirrors": ListOf(
            record({"destination": DESTINATION, "percentage": MIRROR_PERCENTAGE}, required=("destination",))
        ),
        "name": STRING,
        "redirect": REDIRECT,
        "retries": RETRIES,
        "rewrite": REWRITE,
        "route": ListOf(HTTP_ROUTE_DESTINATION),
        "timeout": DURATION,
    },
    rules=(_check_http_route,),
)


def _check_l4_route(route: Mapping[str, Any], path: Path, report: Report) -> None:
    if not sequence(route.get("route")):
        report.error((*path, "route"), "a route needs at least one destination")
    _check_weights(sequence(route.get("route")), (*path, "route"), report)


TCP_ROUTE = record({"match": ListOf(L4_MATCH), "route": ListOf(ROUTE_DESTINATION)}, rules=(_check_l4_route,))
TLS_ROUTE = record(
    {"match": ListOf(TLS_MATCH, min_items=1), "route": ListOf(ROUTE_DESTINATION)},
    required=("match",),
    rules=(_check_l4_route,),
)

# ---- the whole spec ------------------------------------------------------------------------------


def check_gateway_names(report: Report, path: Path, names: Any) -> None:
    """Gateway references: `<namespace>/<name>`, or a bare name (or `mesh`); `name.namespace` is legacy."""
    for index, name in indexed_strings(names):
        where = (*path, index)
        namespace, slash, gateway = name.partition("/")
        if not slash:
            if "." in name:
                parts = name.split(".")
                report.warning(
                    where,
                    f"{quoted(name)} uses the legacy <name>.<namespace> form; write "
                    f"{quoted(parts[1] + '/' + parts[0])} (<namespace>/<name>) instead",
                )
            problem = formats.fqdn(name)
            if problem:
                report.error(where, f"must name a gateway as <namespace>/<name> or <name>: {problem}")
            continue
        if not namespace or not gateway:
            report.error(where, f"must name a gateway as <namespace>/<name>, found {quoted(name)}")
            continue
        if not formats.is_dns1123_label(namespace):
            report.error(where, f"{quoted(namespace)} is not a valid namespace name")
        if not formats.is_dns1123_label(gateway):
            report.error(where, f"{quoted(gateway)} is not a valid gateway name")


def _check_spec(spec: Mapping[str, Any], path: Path, report: Report) -> None:
    hosts = list(indexed_strings(spec.get("hosts")))
    gateways = [name for _, name in indexed_strings(spec.get("gateways"))]
    delegate = not sequence(spec.get("hosts"))
    if delegate:
        for section in ("gateways", "tls", "tcp"):
            if sequence(spec.get(section)):
                report.error(
                    (*path, section),
                    f"a VirtualService without hosts is a delegate, and a delegate cannot have {section}; "
                    "add hosts or remove it",
                )
    check_gateway_names(report, (*path, "gateways"), spec.get("gateways"))
    applies_to_gateway = bool(gateways) and MESH_GATEWAY not in gateways
    if not applies_to_gateway:
        _check_no_jwt_claim_routes(spec, path, report)
    _check_hosts(spec, hosts, applies_to_gateway, path, report)
    if not any(sequence(spec.get(section)) for section in ("http", "tcp", "tls")):
        report.error(path, "a VirtualService needs at least one http, tcp or tls route")
    for index, route in enumerate(sequence(spec.get("http"))):
        if isinstance(route, Mapping):
            _check_route_kind(route, (*path, "http", index), delegate, report)
    for index, route in enumerate(sequence(spec.get("tls"))):
        for match_index, match in enumerate(sequence(mapping(route).get("match"))):
            for sni_index, sni in indexed_strings(mapping(match).get("sniHosts")):
                where = (*path, "tls", index, "match", match_index, "sniHosts", sni_index)
                _check_sni_host(sni, [h for _, h in hosts], gateways, where, report)
    check_export_to(report, (*path, "exportTo"), spec.get("exportTo"))
    analyze_routes(spec, report)


def _check_no_jwt_claim_routes(spec: Mapping[str, Any], path: Path, report: Report) -> None:
    for index, route in enumerate(sequence(spec.get("http"))):
        for match_index, match in enumerate(sequence(mapping(route).get("match"))):
            for section in ("headers", "withoutHeaders"):
                for key in mapping(mapping(match).get(section)):
                    if isinstance(key, str) and key.startswith(JWT_CLAIM_PREFIX):
                        report.error(
                            (*path, "http", index, "match", match_index, section, key),
                            "routing on JWT claims works only for gateways: list the gateways this "
                            "VirtualService applies to (without mesh)",
                        )


def _check_hosts(
    spec: Mapping[str, Any],
    hosts: list[tuple[int, str]],
    applies_to_gateway: bool,
    path: Path,
    report: Report,
) -> None:
    sni = any(
        sequence(mapping(match).get("sniHosts"))
        for r in sequence(spec.get("tls"))
        for match in sequence(mapping(r).get("match"))
    )
    all_valid = True
    for index, host in hosts:
        if report.full:
            return
        where = (*path, "hosts", index)
        problem = _gateway_sni_host(host) if applies_to_gateway and sni else formats.wildcard_host(host)
        if problem:
            if not formats.is_ip_address(host):
                report.error(where, problem)
                all_valid = False
        elif not applies_to_gateway and host == "*":
            report.error(
                where,
                'host "*" is not allowed for a VirtualService that applies to sidecars (the mesh gateway)',
            )
            all_valid = False
    if all_valid and len(hosts) <= 256:
        for position, (index, host) in enumerate(hosts):
            for other_index, other in hosts[position + 1 :]:
                if host_names.matches(host, other):
                    report.error(
                        (*path, "hosts", other_index),
                        f"duplicate host: {quoted(other)} overlaps {quoted(host)} (hosts[{index}])",
                    )
    elif all_valid:
        first: dict[str, int] = {}
        for index, host in hosts:
            if host in first:
                report.error((*path, "hosts", index), f"duplicate host {quoted(host)} (hosts[{first[host]}])")
            first.setdefault(host, index)


def _gateway_sni_host(host: str) -> str | None:
    """A host of a gateway VirtualService with SNI routes: may be `outbound_.<port>_._.<host>`."""
    if not host.startswith("outbound_"):
        return formats.wildcard_host(host)
    problem = formats.fqdn(host) if not host else None
    if problem:
        return problem
    parts = host.split("_")
    expected = "outbound_.<port>_._.<hostname>"
    if len(parts) < 4:
        return f"{quoted(host)} is not a valid host name; an outbound_ host has the form {expected}"
    port, hostname = parts[1].strip("."), parts[3].strip(".")
    if not _PORT_DIGITS.search(port) or not _HOST_LETTERS.search(hostname):
        return f"{quoted(host)} is not a valid host name; an outbound_ host has the form {expected}"
    return None


def _check_sni_host(sni: str, hosts: list[str], gateways: list[str], path: Path, report: Report) -> None:
    on_gateway = MESH_GATEWAY not in gateways
    problem = _gateway_sni_host(sni) if on_gateway else formats.wildcard_host(sni)
    if problem:
        if formats.is_ip_address(sni):
            report.warning(
                path, f"{quoted(sni)} is an IP address; SNI names hosts, and most clients send none for IPs"
            )
        else:
            report.error(path, problem)
        return
    if not any(host_names.subset_of(sni, host) for host in hosts):
        report.error(
            path,
            f"SNI host {quoted(sni)} is not one of (or covered by) the VirtualService hosts "
            f"[{', '.join(hosts)}]",
        )


def _check_route_kind(route: Mapping[str, Any], path: Path, delegate: bool, report: Report) -> None:
    """What an HTTP route must and must not have, for a root (has delegate), delegate or ordinary route."""
    has_redirect = route.get("redirect") is not None
    has_direct = route.get("directResponse") is not None
    has_route = bool(sequence(route.get("route")))
    if not delegate and route.get("delegate") is not None:
        if has_redirect:
            report.error((*path, "redirect"), "a route with a delegate cannot also redirect")
        if route.get("route") is not None:
            report.error((*path, "route"), "a route with a delegate cannot also have destinations")
        return
    if delegate and route.get("delegate") is not None:
        report.error((*path, "delegate"), "a delegate VirtualService's routes cannot delegate again")
    fault, rewrite = route.get("fault") is not None, route.get("rewrite") is not None
    if has_redirect:
        for present, name in (
            (has_route, "route"),
            (fault, "fault"),
            (rewrite, "rewrite"),
            (has_direct, "directResponse"),
        ):
            if present:
                report.error((*path, name), f"a route that redirects cannot also have {name}")
    elif has_direct:
        for present, name in ((has_route, "route"), (fault, "fault"), (rewrite, "rewrite")):
            if present:
                report.error((*path, name), f"a route with a directResponse cannot also have {name}")
    elif not has_route:
        report.error(path, "an HTTP route needs route (destinations), redirect, directResponse or delegate")


SPEC = record(
    {
        "exportTo": STRINGS,
        "gateways": STRINGS,
        "hosts": STRINGS,
        "http": ListOf(HTTP_ROUTE),
        "tcp": ListOf(TCP_ROUTE),
        "tls": ListOf(TLS_ROUTE),
    },
    rules=(_check_spec,),
)
