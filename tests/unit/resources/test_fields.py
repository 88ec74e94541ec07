"""The shared field accessors: each name has one meaning, and a field of the wrong type reads as absent."""

from __future__ import annotations

import pytest

from mesh_runtime.resources import fields


def test_mapping_and_sequence_give_empty_ones_for_the_wrong_type() -> None:
    assert fields.mapping({"a": 1}) == {"a": 1}
    assert [dict(fields.mapping(v)) for v in (None, [], "x", 3)] == [{}, {}, {}, {}]
    assert fields.sequence([1, 2]) == [1, 2] and fields.sequence((1,)) == (1,)
    assert [fields.sequence(v) for v in (None, {}, "ab", 3)] == [(), (), (), ()]
    assert fields.mappings([{"a": 1}, "b", None, {"c": 2}]) == [{"a": 1}, {"c": 2}]


def test_strings_are_the_string_items_and_indexed_strings_say_where() -> None:
    value = ["a", 1, "b", None]
    assert fields.strings(value) == ("a", "b")
    assert list(fields.indexed_strings(value)) == [(0, "a"), (2, "b")]
    assert fields.strings("abc") == () and list(fields.indexed_strings({"a": "b"})) == []


def test_string_entries_keep_order_and_skip_non_strings() -> None:
    value = {"b": "2", 1: "int key", "a": "1", "c": 3}
    assert list(fields.string_entries(value)) == [("b", "2"), ("a", "1")]
    assert fields.string_map(value) == {"b": "2", "a": "1"}


@pytest.mark.parametrize(
    ("value", "integer", "number", "boolean"),
    [
        (3, 3, 3.0, None),
        ("42", 42, None, None),
        ("4.2", None, None, None),
        (2.5, None, 2.5, None),
        (True, None, None, True),
        (None, None, None, None),
    ],
)
def test_scalars_read_only_their_own_type(
    value: object, integer: int | None, number: float | None, boolean: bool | None
) -> None:
    assert (fields.integer(value), fields.number(value), fields.boolean(value)) == (integer, number, boolean)


def test_text_has_a_default_and_labels_match_every_selector_label() -> None:
    assert (fields.text("x"), fields.text(3), fields.text(None, "d")) == ("x", "", "d")
    assert fields.labels_match({}, {"app": "a"})
    assert fields.labels_match({"app": "a"}, {"app": "a", "v": "1"})
    assert not fields.labels_match({"app": "a", "v": "2"}, {"app": "a", "v": "1"})
