"""How each original service reads numbers: Ruby's Integer(), JavaScript's parseInt() and JSON, a Java int.

The JavaScript expectations were produced by Node.js itself (`parseInt(s)`, `JSON.stringify(n)`).
"""

from __future__ import annotations

import math

import pytest

from bookinfo.parsing import java_int, js_json, js_number, js_parse_int, json_parse_js, ruby_integer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("-5", -5),
        ("+5", 5),
        (" 12\n", 12),
        ("0x1A", 26),
        ("0X1a", 26),
        ("0b11", 3),
        ("0o17", 15),
        ("0d19", 19),
        ("010", 8),
        ("0_7", 7),
        ("1_000", 1000),
        ("0x0_1", 1),
        ("123456789012345678901234567890", 123456789012345678901234567890),
    ],
)
def test_ruby_integer_accepts(text: str, value: int) -> None:
    assert ruby_integer(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1.5", "08", "0x", "0x_1", "_1", "1_", "1__0", "0b2", "- 1", "+-1", "1 2", "1\0", "details"],
)
def test_ruby_integer_rejects(text: str) -> None:
    assert ruby_integer(text) is None


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("0", "0"),
        ("5abc", "5"),
        ("0x1A", "26"),
        ("0X1g", "1"),
        (" \t42", "42"),
        ("\u00a012", "12"),
        ("-0", "0"),
        ("-7x", "-7"),
        ("+3", "3"),
        ("1e5", "1"),
        ("1.9", "1"),
        ("0b11", "0"),
        ("-0x10", "-16"),
        ("99999999999999999999", "100000000000000000000"),
        ("123456789012345678901234", "1.2345678901234569e+23"),
        ("9" * 400, "null"),  # Infinity
    ],
)
def test_js_parse_int_as_node_writes_it(text: str, written: str) -> None:
    assert js_number(js_parse_int(text)) == written


@pytest.mark.parametrize("text", ["", "abc", "0x", "\u200b12", "-", "x1"])
def test_js_parse_int_without_leading_digits_is_nan(text: str) -> None:
    assert math.isnan(js_parse_int(text))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (0.5, "0.5"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (1e-7, "1e-7"),
        (1.234e-6, "0.000001234"),
        (123e-20, "1.23e-18"),
        (12345678901234567890.0, "12345678901234567000"),
        (1 / 3, "0.3333333333333333"),
        (-2.5e-10, "-2.5e-10"),
        (float(2**53 + 2), "9007199254740994"),
        (math.nan, "null"),
    ],
)
def test_js_number_as_json_stringify_writes_it(value: float, written: str) -> None:
    assert js_number(value) == written


def test_js_json_round_trip_is_compact_and_keeps_order() -> None:
    parsed = json_parse_js('{"b": [1, 2.50, true, null], "a": "\\u00e9\\ud800", "c": {"d": 1e2}}')
    assert js_json(parsed) == '{"b":[1,2.5,true,null],"a":"\u00e9\\ud800","c":{"d":100}}'


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "", "{", "'a'", "\ufeff{}"])
def test_json_parse_js_rejects_what_json_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        json_parse_js(text)


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("+007", 7), ("-2147483648", -2147483648), ("2147483647", 2**31 - 1)]
)
def test_java_int_accepts(text: str, value: int) -> None:
    assert java_int(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1.0", "2147483648", "-2147483649", " 1", "0x1", "1_0"])
def test_java_int_rejects(text: str) -> None:
    assert java_int(text) is None
