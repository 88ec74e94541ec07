"""Checks of string and number formats Istio gives meaning to: durations, host names, IPs and CIDRs,
RE2 regular expressions, label keys and values, header names and values, ports.

Each check takes the value and returns None when it is fine, or the problem as text (what is wrong and what
is expected), which the caller prefixes with the field path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import re2

from .findings import quoted

#: A check of a string value: None when valid, else the problem.
TextCheck = Callable[[str], str | None]

MAX_PORT = 65535
MAX_HOST_LENGTH = 255
DNS1123_LABEL_MAX = 63
MAX_REGEX_LENGTH = 1024

# Istio's DNS-1123 label (its pattern also accepts upper case letters).
_DNS1123_LABEL = re.compile(r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?\Z")
# A leftmost label that may be a wildcard: `*`, or a label that starts with `*` or `*-`.
_WILDCARD_LABEL = re.compile(r"(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)\Z")
# Kubernetes label keys: an optional DNS-name prefix and `/`, then a qualified name.
_QUALIFIED_NAME = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY = re.compile(
    r"(?:(?P<prefix>[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*)/)?"
    rf"(?P<name>{_QUALIFIED_NAME})\Z"
)
_LABEL_VALUE = re.compile(rf"(?:{_QUALIFIED_NAME})?\Z")
_HEADER_NAME = re.compile(r"[-_A-Za-z0-9]+\Z")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+\Z")
_SIGNED_DIGITS = re.compile(r"[+-]?[0-9]+\Z")

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


# ---- labels --------------------------------------------------------------------------------------


def is_dns1123_label(value: str) -> bool:
    return len(value) <= DNS1123_LABEL_MAX and _DNS1123_LABEL.match(value) is not None


def dns1123_label(value: str) -> str | None:
    if is_dns1123_label(value):
        return None
    return (
        f"{quoted(value)} is not a valid name: use at most 63 letters, digits and '-', "
        "starting and ending with a letter or digit"
    )


def label_key(key: str) -> str | None:
    match = _LABEL_KEY.match(key)
    if match is None:
        return (
            f"label key {quoted(key)} is invalid: use an optional DNS prefix and '/', then letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )
    prefix = match.group("prefix") or ""
    if len(prefix) > 253:
        return f"label key {quoted(key)} is invalid: its prefix is longer than 253 characters"
    if len(match.group("name")) > DNS1123_LABEL_MAX:
        return f"label key {quoted(key)} is invalid: its name is longer than 63 characters"
    return None


def label_value(value: str) -> str | None:
    if _LABEL_VALUE.match(value) is None:
        return (
            f"label value {quoted(value)} is invalid: use letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit (or leave it empty)"
        )
    return None


# ---- hosts ---------------------------------------------------------------------------------------


def _dns_preconditions(name: str) -> str | None:
    if not name:
        return "must be a host name, found an empty string"
    if len(name) > MAX_HOST_LENGTH:
        return f"host name {quoted(name)} is too long: at most {MAX_HOST_LENGTH} characters"
    return None


def _dns_labels(domain: str, whole: str) -> str | None:
    labels = domain.split(".")
    top = labels[-1]
    if _SIGNED_DIGITS.match(top):
        return f"{quoted(whole)} is not a valid host name: its top-level domain {quoted(top)} is all digits"
    for index, label in enumerate(labels):
        if index == len(labels) - 1 and label == "":
            return None  # a trailing dot (`istio.io.`) is allowed
        if not is_dns1123_label(label):
            return _bad_label(whole, label)
    return None


def _bad_label(whole: str, label: str) -> str:
    hint = ""
    if "*" in label:
        hint = "; a wildcard may only be the whole leftmost label, as in *.example.com"
    elif not label:
        hint = "; it has an empty label (two dots in a row, or a leading dot)"
    return f"{quoted(whole)} is not a valid host name: label {quoted(label)} is invalid{hint}"


def fqdn(name: str) -> str | None:
    """A host name without wildcards (`reviews`, `reviews.prod.svc.cluster.local`)."""
    return _dns_preconditions(name) or _dns_labels(name, name)


def wildcard_host(name: str) -> str | None:
    """A host name that may have a wildcard as (part of) its leftmost label: `*`, `*.example.com`."""
    problem = _dns_preconditions(name)
    if problem:
        return problem
    first, dot, rest = name.partition(".")
    if len(first) > DNS1123_LABEL_MAX or _WILDCARD_LABEL.match(first) is None:
        return _bad_label(name, first)
    return _dns_labels(rest, name) if dot else None


def partial_wildcard(name: str) -> str | None:
    """A wildcard that is not the whole leftmost label (`*foo.com`, `foo.*.com`)."""
    if "*" in name and name != "*" and not name.startswith("*."):
        return f"partial wildcard {quoted(name)} is not allowed: use * alone or a leftmost *. label"
    return None


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def ip_address(value: str) -> str | None:
    if is_ip_address(value):
        return None
    return f"{quoted(value)} is not a valid IP address (such as 10.0.0.1 or 2001:db8::1)"


def is_cidr(value: str) -> bool:
    address, slash, bits = value.partition("/")
    if not slash or not _DIGITS.match(bits) or (len(bits) > 1 and bits.startswith("0")) or "%" in address:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def ip_or_cidr(value: str) -> str | None:
    """An IP address or a CIDR block (`10.0.0.0/8`), as Istio's IP subnets are written."""
    if value.count("/") == 1:
        if is_cidr(value):
            return None
        return f"{quoted(value)} is not a valid CIDR block (such as 10.0.0.0/16 or 2001:db8::/32)"
    return ip_address(value)


# ---- ports ---------------------------------------------------------------------------------------


def port_number(value: int) -> str | None:
    if 1 <= value <= MAX_PORT:
        return None
    return f"must be a port number from 1 to {MAX_PORT}, found {value}"


def port_text(value: str) -> str | None:
    """A port written as a string (AuthorizationPolicy `ports`): decimal, 0 to 65535."""
    if _DIGITS.match(value) and int(value) <= MAX_PORT:
        return None
    return f"{quoted(value)} is not a port: use a number from 0 to {MAX_PORT}, written as a string"


# ---- durations -----------------------------------------------------------------------------------

_UNIT_NANOS = {
    "ns": Fraction(1),
    "us": Fraction(1_000),
    "\u00b5s": Fraction(1_000),
    "\u03bcs": Fraction(1_000),
    "ms": Fraction(1_000_000),
    "s": Fraction(1_000_000_000),
    "m": Fraction(60_000_000_000),
    "h": Fraction(3_600_000_000_000),
}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-z\u00b5\u03bc]+)")
_NANOS_PER_MS = 1_000_000
_NANOS_PER_S = 1_000_000_000
DURATION_EXAMPLES = "such as 500ms, 10s, 1m or 1h30m"


def parse_duration(text: str) -> int | None:
    """A duration as Go writes them (`1h30m`, `0.5s`, `250ms`) in nanoseconds; None if it is not one."""
    if len(text) > 64:
        return None
    body = text
    sign = 1
    if body and body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        return None
    total = Fraction(0)
    position = 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            return None
        number, unit = match.groups()
        if number in ("", ".") or unit not in _UNIT_NANOS:
            return None
        try:
            total += Fraction(Decimal(number)) * _UNIT_NANOS[unit]
        except (InvalidOperation, ValueError):
            return None
        position = match.end()
    return sign * int(total)


def duration(minimum_ms: int = 1, precision_ns: int = _NANOS_PER_MS) -> TextCheck:
    """A check for a duration of at least `minimum_ms` milliseconds, to `precision_ns` precision."""

    def check(text: str) -> str | None:
        nanos = parse_duration(text)
        if nanos is None:
            return f"must be a duration {DURATION_EXAMPLES}, found {quoted(text)}"
        if nanos < minimum_ms * _NANOS_PER_MS:
            least = "1ms" if minimum_ms == 1 else f"{minimum_ms}ms"
            if minimum_ms == 0:
                return f"must be a duration of 0s or more, found {quoted(text)}"
            return f"must be a duration of at least {least}, found {quoted(text)}"
        if nanos % precision_ns:
            unit = "seconds" if precision_ns == _NANOS_PER_S else "milliseconds"
            return f"must be a whole number of {unit}, found {quoted(text)}"
        return None

    return check


# ---- regexes -------------------------------------------------------------------------------------


def regex(text: str) -> str | None:
    """An RE2 regular expression, as Istio (and Envoy) compile them: no lookaround, no backreferences."""
    if text == "":
        return "must be a regular expression, found an empty string"
    if len(text) > MAX_REGEX_LENGTH:
        return f"regular expression is too long: at most {MAX_REGEX_LENGTH} characters, found {len(text)}"
    try:
        re2.compile(text, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return (
            f"{quoted(text)} is not a valid RE2 regular expression ({reason}); Istio matches with RE2 "
            "syntax (https://github.com/google/re2/wiki/Syntax): no lookahead, lookbehind or backreferences"
        )
    return None


# ---- headers -------------------------------------------------------------------------------------


def header_name(name: str) -> str | None:
    if name == "":
        return "header name must not be empty"
    if _HEADER_NAME.match(name) is None:
        return f"{quoted(name)} is not a valid header name: use letters, digits, '-' and '_'"
    return None


def header_value(value: str) -> str | None:
    """A header value Envoy accepts: no control characters, `%` escaped as `%%` or opening a `%VARIABLE%`."""
    if _HEADER_VALUE_FORBIDDEN.search(value):
        return f"header value {quoted(value)} contains control characters"
    problem = _header_variables(value)
    if problem:
        return f"header value {quoted(value)} is invalid: {problem}"
    return None


def _header_variables(value: str) -> str | None:
    """Envoy's parse of `%VAR%` and `%VAR(["arg", ...])%` in header values, as a small state machine."""
    literal, name, expect_array, expect_string, string, delimiter, args_end, var_end = range(8)
    state = literal
    position = 0
    while position < len(value):
        ch = value[position]
        has_next = position + 1 < len(value)
        if state == literal:
            if ch == "%":
                if not has_next:
                    return "a lone % at the end; write %% for a literal %"
                if value[position + 1] == "%":
                    position += 1
                else:
                    state = name
        elif state == name:
            if ch == "%":
                state = literal
            elif ch == "(":
                state = expect_array
        elif state == expect_array:
            if ch == "[":
                state = expect_string
            elif ch != " ":
                state = string
        elif state == delimiter:
            if ch == ",":
                state = expect_string
            elif ch == "]":
                state = args_end
            elif ch != " ":
                return "expected ',' or ']' in a %VARIABLE([...])% argument list"
        elif state == expect_string:
            if ch == '"':
                state = string
            elif ch != " ":
                return "expected '\"' to start an argument in a %VARIABLE([...])% argument list"
        elif state == string:
            if ch == "\\":
                if not has_next:
                    return "unterminated backslash in an argument"
                position += 1
            elif ch == ")":
                state = var_end
            elif ch == '"':
                state = delimiter
        elif state == args_end:
            if ch == ")":
                state = var_end
            elif ch != " ":
                return "expected ')' after the argument list"
        elif state == var_end:
            if ch == "%":
                state = literal
            elif ch != " ":
                return "expected '%' to close the variable"
        position += 1
    if state != literal:
        return "a %VARIABLE% is not closed; write %% for a literal %"
    return None
