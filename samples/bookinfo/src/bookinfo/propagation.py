"""Which incoming headers a service copies onto the calls it makes.

The proxies can stitch a request's spans into one trace only if the apps carry the trace headers across.
details and reviews copy a fixed list, `end-user` and all five B3 headers included. productpage differs: it
re-derives the B3 headers from the incoming ones (OpenTelemetry's B3 multi-header propagator), copies the
rest of the list without `end-user`, and sends `end-user` only for the user signed in to its session.
"""

from __future__ import annotations

import re

from .server import Headers

# Copied verbatim by details and reviews.
FORWARDED_HEADERS = (
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "sw8",
    "end-user",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
)

# Copied verbatim by productpage: no B3 (re-derived) and no end-user (taken from the session).
PRODUCTPAGE_FORWARDED_HEADERS = tuple(
    name for name in FORWARDED_HEADERS if not name.startswith("x-b3-") and name != "end-user"
)

_B3_TRACE_ID = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")
_B3_SPAN_ID = re.compile(r"[0-9a-fA-F]{16}")
_B3_SAMPLED_VALUES = frozenset({"1", "True", "true", "d"})


def copy_headers(incoming: Headers, names: tuple[str, ...]) -> dict[str, str]:
    copied: dict[str, str] = {}
    for name in names:
        value = incoming.get(name)
        if value is not None:
            copied[name] = value
    return copied


def b3_headers(incoming: Headers) -> dict[str, str]:
    """The B3 headers productpage sends on: trace id (padded to 32 hex digits), span id, sampled (1/0).

    They come from the single `b3` header when present, else from `x-b3-*`. The parent span id and the
    flags are not sent on; nothing is sent unless a valid trace id and span id came in.
    """
    trace_id: str | None
    span_id: str | None
    flags: str | None = None
    single = incoming.first("b3")
    if single:
        trace_id, span_id, sampled = _split_single_b3(single)
    else:
        trace_id = incoming.first("x-b3-traceid")
        span_id = incoming.first("x-b3-spanid")
        sampled = incoming.first("x-b3-sampled") or "0"
        flags = incoming.first("x-b3-flags")
    if not trace_id or not span_id:
        return {}
    if _B3_TRACE_ID.fullmatch(trace_id) is None or _B3_SPAN_ID.fullmatch(span_id) is None:
        return {}
    is_sampled = sampled in _B3_SAMPLED_VALUES or flags == "1"
    return {
        "x-b3-traceid": f"{int(trace_id, 16):032x}",
        "x-b3-spanid": f"{int(span_id, 16):016x}",
        "x-b3-sampled": "1" if is_sampled else "0",
    }


def _split_single_b3(value: str) -> tuple[str | None, str | None, str]:
    """`b3: {trace}-{span}[-{sampled}[-{parent}]]`, or a lone sampling state; sampled defaults to 1."""
    fields = value.split("-", 4)
    if len(fields) == 1:
        return None, None, fields[0]
    if len(fields) > 4:
        return None, None, "1"
    sampled = fields[2] if len(fields) >= 3 else "1"
    return fields[0], fields[1], sampled
