"""A route's CORS policy compiled once per push, applied as Envoy's CORS filter applies it for Istio.

A request takes part in CORS when it carries a non-empty `Origin`. A preflight (OPTIONS with
`Access-Control-Request-Method`) whose origin is allowed is answered here with 200 and the policy's
`Access-Control-Allow-*` headers; one whose origin is not allowed is forwarded like any request (Istio's
FORWARD, the default) or answered without `Access-Control-Allow-Origin` (IGNORE). Any other request from an
allowed origin is forwarded and its response gets `Access-Control-Allow-Origin` (the request's origin),
`Access-Control-Allow-Credentials` and `Access-Control-Expose-Headers`. Nothing changes for an origin that is
not allowed.
"""

from __future__ import annotations

from mesh_runtime import xds

from .matchers import BytesPredicate, compile_string_match

ALLOW_ORIGIN = b"access-control-allow-origin"
ALLOW_CREDENTIALS = b"access-control-allow-credentials"
ALLOW_METHODS = b"access-control-allow-methods"
ALLOW_HEADERS = b"access-control-allow-headers"
MAX_AGE = b"access-control-max-age"
EXPOSE_HEADERS = b"access-control-expose-headers"
ORIGIN = b"origin"
REQUEST_METHOD = b"access-control-request-method"
REQUEST_HEADERS = b"access-control-request-headers"
OPTIONS = b"OPTIONS"
#: An allow list of exactly this echoes what the preflight asked for (Envoy).
WILDCARD = b"*"


def _line(name: bytes, value: bytes) -> bytes:
    return name + b": " + value + b"\r\n"


class CompiledCors:
    """What a route's CORS policy needs on the request path: an origin predicate and prebuilt lines."""

    __slots__ = (
        "origin_allowed",
        "forward_unmatched",
        "credentials",
        "allow_methods",
        "allow_headers",
        "preflight_tail",
        "response_tail",
        "response_drop",
    )

    def __init__(
        self,
        origin_allowed: BytesPredicate,
        forward_unmatched: bool,
        credentials: bool,
        allow_methods: bytes,
        allow_headers: bytes,
        preflight_tail: bytes,
        response_tail: bytes,
        response_drop: frozenset[bytes],
    ) -> None:
        self.origin_allowed = origin_allowed
        self.forward_unmatched = forward_unmatched
        self.credentials = credentials
        self.allow_methods = allow_methods
        self.allow_headers = allow_headers
        #: Max-Age, after the methods and headers lines.
        self.preflight_tail = preflight_tail
        #: Allow-Credentials and Expose-Headers, after the Allow-Origin line of a response.
        self.response_tail = response_tail
        #: The response headers this policy sets (replacing the upstream's).
        self.response_drop = response_drop

    def answers_preflight(self, allowed: bool) -> bool:
        """A preflight is answered here when its origin is allowed, or when unmatched ones stay here."""
        return allowed or not self.forward_unmatched

    def preflight_headers(self, origin: bytes | None, method: bytes, headers: bytes) -> bytes:
        """The header lines of the local answer to a preflight; `origin` is None when it is not allowed."""
        parts = []
        if origin is not None:
            parts.append(_line(ALLOW_ORIGIN, origin))
        if self.credentials:
            parts.append(_line(ALLOW_CREDENTIALS, b"true"))
        if self.allow_methods:
            parts.append(
                _line(ALLOW_METHODS, method if self.allow_methods == WILDCARD else self.allow_methods)
            )
        if self.allow_headers:
            parts.append(
                _line(ALLOW_HEADERS, headers if self.allow_headers == WILDCARD else self.allow_headers)
            )
        parts.append(self.preflight_tail)
        return b"".join(parts)

    def response_lines(self, origin: bytes) -> bytes:
        """The lines added to a response to a request from an allowed `origin`."""
        return _line(ALLOW_ORIGIN, origin) + self.response_tail


def compile_cors(policy: xds.CorsPolicy, where: str) -> CompiledCors:
    """`policy` ready for requests; MatchCompileError (naming `where`) for an origin regex RE2 rejects."""
    predicates = [
        compile_string_match(match, f"{where}.allow_origins[{index}]")
        for index, match in enumerate(policy.allow_origins)
        if match.kind != "present"
    ]
    credentials = policy.allow_credentials is True
    expose = ",".join(policy.expose_headers).encode()
    tail = (_line(ALLOW_CREDENTIALS, b"true") if credentials else b"") + (
        _line(EXPOSE_HEADERS, expose) if expose else b""
    )
    drop = {ALLOW_ORIGIN}
    if credentials:
        drop.add(ALLOW_CREDENTIALS)
    if expose:
        drop.add(EXPOSE_HEADERS)
    max_age = b"" if policy.max_age is None else _line(MAX_AGE, b"%d" % int(policy.max_age))
    return CompiledCors(
        origin_allowed=_any_origin(predicates),
        forward_unmatched=policy.unmatched_preflights != "IGNORE",
        credentials=credentials,
        allow_methods=",".join(policy.allow_methods).encode(),
        allow_headers=",".join(policy.allow_headers).encode(),
        preflight_tail=max_age,
        response_tail=tail,
        response_drop=frozenset(drop),
    )


def _any_origin(predicates: list[BytesPredicate]) -> BytesPredicate:
    """Envoy allows an origin that a matcher accepts, and every origin once a matcher accepts `*` itself."""
    if any(predicate(WILDCARD) for predicate in predicates):
        return _every_origin
    if not predicates:
        return _no_origin
    if len(predicates) == 1:
        return predicates[0]
    frozen = tuple(predicates)

    def any_allows(origin: bytes) -> bool:
        return any(predicate(origin) for predicate in frozen)

    return any_allows


def _every_origin(_: bytes) -> bool:
    return True


def _no_origin(_: bytes) -> bool:
    return False
