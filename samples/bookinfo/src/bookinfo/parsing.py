"""How the original services read numbers, quirks included: each was written in a different language.

- details (Ruby) reads the product id with `Integer()`: `0x1A`, `0b11`, `0o17`, `010` (octal) and `1_0` are
  numbers; surrounding whitespace is allowed.
- ratings (Node.js) reads it with `parseInt()`: the longest numeric prefix (`5abc` is 5), `0x` means hex,
  and the result is a JavaScript number (a double), which `JSON.stringify` writes in its own way.
- reviews (Java, JAX-RS `int` parameter) accepts a signed decimal that fits in 32 bits, and nothing else.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

_RUBY_SPACE = " \t\n\v\f\r"
_RUBY_PREFIXES = {"x": 16, "b": 2, "o": 8, "d": 10}
_DIGITS = {2: "01", 8: "0-7", 10: "0-9", 16: "0-9a-fA-F"}


def ruby_integer(text: str) -> int | None:
    """Ruby's `Integer(text)`, or None where Ruby raises."""
    if "\0" in text:
        return None
    body = text.strip(_RUBY_SPACE)
    negative = body[:1] == "-"
    if body[:1] in ("+", "-"):
        body = body[1:]
    base = 10
    if len(body) > 1 and body[0] == "0":
        marker = body[1].lower()
        if marker in _RUBY_PREFIXES:
            base = _RUBY_PREFIXES[marker]
            body = body[2:]
        else:
            base = 8  # a leading 0 means octal; the 0 itself is an octal digit
    digit = f"[{_DIGITS[base]}]"
    if not re.fullmatch(f"{digit}+(?:_{digit}+)*", body):
        return None
    value = int(body.replace("_", ""), base)
    return -value if negative else value


_JS_SPACE = frozenset("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | frozenset(
    chr(code) for code in range(0x2000, 0x200B)
)


def js_parse_int(text: str) -> float:
    """JavaScript's `parseInt(text)` without a radix: a double, NaN when no digits lead."""
    index = 0
    while index < len(text) and text[index] in _JS_SPACE:
        index += 1
    sign = 1.0
    if text[index : index + 1] in ("+", "-"):
        sign = -1.0 if text[index] == "-" else 1.0
        index += 1
    base = 10
    if text[index : index + 2] in ("0x", "0X"):
        base = 16
        index += 2
    match = re.match(f"[{_DIGITS[base]}]+", text[index:])
    if match is None:
        return math.nan
    try:
        return sign * float(int(match.group(), base))
    except OverflowError:
        return sign * math.inf


def java_int(text: str) -> int | None:
    """A JAX-RS `int` path parameter (`Integer.valueOf`): signed decimal within 32 bits, else None."""
    if not re.fullmatch(r"[+-]?\d+", text):
        return None
    value = int(text)
    return value if -(2**31) <= value < 2**31 else None


def js_number(value: float) -> str:
    """A number as JavaScript's `JSON.stringify` writes it (`5`, `0.5`, `1e+21`, `null` for NaN)."""
    if math.isnan(value) or math.isinf(value):
        return "null"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_tuple, exponent = _shortest_digits(abs(value))
    digits = "".join(map(str, digits_tuple))
    k = len(digits)
    n = k + exponent  # the value is 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    power = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _shortest_digits(value: float) -> tuple[tuple[int, ...], int]:
    """The shortest decimal digits that read back as `value` (Python's repr finds the same ones as JS)."""
    decimal = Decimal(repr(value)).normalize()
    sign, digits, exponent = decimal.as_tuple()
    return tuple(digits), int(exponent)


def js_json(value: object) -> str:
    """`JSON.stringify(value)` of a value from `json_parse_js`: compact, numbers as JavaScript writes them."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return js_number(float(value))
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, list):
        return "[" + ",".join(js_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_js_string(str(key))}:{js_json(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _js_string(value: str) -> str:
    quoted = json.dumps(value, ensure_ascii=False)
    # JSON.stringify writes a lone surrogate as an escape; Python would write the raw (unencodable) character.
    return re.sub("[\ud800-\udfff]", lambda match: f"\\u{ord(match.group()):04x}", quoted)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def json_parse_js(text: str) -> object:
    """`JSON.parse(text)`: strict JSON; every number a double, as in JavaScript. Raises ValueError."""
    return json.loads(text, parse_int=float, parse_constant=_reject_constant)
