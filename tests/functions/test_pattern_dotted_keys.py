"""Dotted keys: "a.b" names the field b of the object at a, in patterns and events.

event-ruler names every field by its path joined with dots, so a pattern's
``{"state.status": [...]}`` selects ``{"state": {"status": ...}}`` and a nested
pattern selects an event's ``"state.status"`` key; both spellings of one path
are one field.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from logway.functions.patterns import PatternError, compile_pattern


def matches(pattern: Any, event: Any) -> bool:
    return compile_pattern(pattern).matches(event)


CASES: list[tuple[Any, Any, bool]] = [
    # a dotted pattern key against nested objects, and the reverse
    ({"detail": {"state.status": ["running"]}}, {"detail": {"state": {"status": "running"}}}, True),
    ({"detail": {"state.status": ["running"]}}, {"detail": {"state": {"status": "off"}}}, False),
    ({"detail": {"state": {"status": ["running"]}}}, {"detail": {"state.status": "running"}}, True),
    ({"detail": {"state": {"status": ["running"]}}}, {"detail.state.status": "running"}, True),
    ({"detail": {"state": {"status": ["running"]}}}, {"detail.state": {"status": "running"}}, True),
    ({"detail.state.status": ["running"]}, {"detail": {"state.status": "running"}}, True),
    ({"a": {"b.c": [1]}}, {"a.b": {"c": 1}}, True),
    # the joined path must be the same: a.b.b is not a.b
    ({"a": {"b": [1]}}, {"a.b": {"b": 1}}, False),
    ({"a.b": {"b": [1]}}, {"a": {"b": 1}}, False),
    ({"a": {"b": [1]}}, {"a.": {"b": 1}}, False),  # a..b
    ({"a..b": [1]}, {"a": {"": {"b": 1}}}, True),  # an empty name between the dots
    # fields reached by either spelling are AND-ed like any others
    ({"a": {"b": [1], "c": [2]}}, {"a": {"b": 1}, "a.c": 2}, True),
    ({"a": {"b": [1], "c": [2]}}, {"a": {"b": 1}, "a.c": 3}, False),
    # both spellings of one field: it holds both values, as an array would
    ({"a.b": [2]}, {"a": {"b": 1}, "a.b": 2}, True),
    ({"a.b": [1]}, {"a": {"b": 1}, "a.b": 2}, True),
    ({"a.b": [{"anything-but": [1, 2]}]}, {"a": {"b": 1}, "a.b": 2}, False),
    # a field that holds a value and, through a dotted key, an object
    ({"a": ["x"], "a.b": [1]}, {"a": "x", "a.b": 1}, True),
    ({"a": {"b": [1]}}, {"a": "x", "a.b": 1}, True),
    # array consistency: the other fields join whichever element is chosen
    (
        {"a": {"b": [2], "c": [2], "d": [3]}},
        {"a": [{"b": 1, "c": 1}, {"b": 2, "c": 2}], "a.d": 3},
        True,
    ),
    ({"a": {"b": [1], "c": [2]}}, {"a": [{"b": 1, "c": 1}, {"b": 2, "c": 2}], "a.d": 3}, False),
    ({"a": {"b": {"c": [2]}}}, {"a": [{"b.c": 1}, {"b": {"c": 2}}]}, True),
    ({"a": {"b": {"c": [1], "d": [2]}}}, {"a": [{"b.c": 1}, {"b": {"d": 2}}]}, False),
    ({"a": {"b": {"c": [1], "d": [2]}}}, {"a": [{"b.c": 1, "b": {"d": 2}}]}, True),
    # exists
    ({"a.b": [{"exists": False}]}, {"a": {"b": 1}}, False),
    ({"a.b": [{"exists": False}]}, {"a": {"c": 1}}, True),
    ({"a": {"b": [{"exists": False}]}}, {"a.b": 1}, False),
    ({"a": {"b": [{"exists": True}]}}, {"a.b": None}, True),
    ({"a": {"b": [{"exists": False}], "c": [1]}}, {"a": {"c": 1}, "a.b": 2}, False),
    ({"a": {"b": [{"exists": False}], "c": [1]}}, {"a": {"c": 1}, "a.d": 2}, True),
    # inside $or
    ({"$or": [{"a.b": [1]}, {"c": [2]}]}, {"a": {"b": 1}}, True),
    ({"x": {"$or": [{"a": {"b": [1]}}, {"c": [2]}]}}, {"x.a.b": 1}, True),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), CASES)
def test_dotted_keys_name_nested_fields(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected
    assert matches(json.dumps(pattern), json.loads(json.dumps(event))) is expected


def test_matching_leaves_an_event_with_dotted_keys_as_it_was() -> None:
    event = {"a": [{"b": 1}], "a.c": 2, "a.b": {"d": [3]}}
    before = copy.deepcopy(event)
    assert matches({"a": {"b": [1], "c": [2]}}, event)
    assert matches({"a": {"b": {"d": [3]}}}, event)
    assert event == before


@pytest.mark.parametrize(
    "pattern",
    [
        {"a.b": [1], "a": {"b": [2]}},
        {"a": {"b": [2]}, "a.b": [1]},
        {"a": {"b.c": [1]}, "a.b": {"c": [2]}},
        {"a.b": [1], "$or": [{"a": {"b": [2]}}, {"c": [3]}]},
    ],
)
def test_a_field_named_by_a_dotted_key_and_nested_objects_is_refused(pattern: Any) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert "is given twice" in caught.value.problem
    assert "dotted key" in caught.value.problem


# ---------------------------------------------------------------------------
# Property: writing nested objects as dotted keys changes nothing

names = st.sampled_from("abc")
scalars = st.sampled_from([0, 1, 2, "x", "y", None])
event_values: st.SearchStrategy[Any] = scalars
for _ in range(2):  # level by level: never redrawn for size, so cheap to make
    objects = st.dictionaries(names, event_values, max_size=3)
    event_values = scalars | objects | st.lists(event_values, max_size=2)
nested_events = st.dictionaries(names, event_values, min_size=1, max_size=3)


def pattern_for(value: Any, data: st.DataObject) -> Any:
    """A pattern that tests some of the fields of ``value``, and perhaps one it lacks.

    Each test holds or fails as drawn, so that both outcomes are common.
    """
    if isinstance(value, dict):
        fields = {}
        for key, item in value.items():
            if data.draw(st.booleans()):
                test = pattern_for(item, data)
                if test is not None:
                    fields[key] = test
        absent = data.draw(names)
        if absent not in value and data.draw(st.booleans()):
            fields[absent] = [{"exists": data.draw(st.booleans())}]
        return fields or None
    if isinstance(value, list):
        items = list(flat(value))
        objects = [item for item in items if isinstance(item, dict)]
        if objects and data.draw(st.booleans()):
            return pattern_for(data.draw(st.sampled_from(objects)), data)
        scalars = [item for item in items if not isinstance(item, dict)]
        if not scalars:
            return None
        value = data.draw(st.sampled_from(scalars))
    return [data.draw(st.sampled_from([value, "z", {"exists": True}, {"exists": False}]))]


def flat(items: list[Any]) -> Any:
    for item in items:
        if isinstance(item, list):
            yield from flat(item)
        else:
            yield item


def dotted(value: Any, data: st.DataObject, in_arrays: bool = True) -> Any:
    """``value`` with some of its nested objects written as dotted keys instead."""
    if isinstance(value, list):
        return [dotted(item, data, in_arrays) for item in value] if in_arrays else value
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        item = dotted(item, data, in_arrays)
        if isinstance(item, dict) and data.draw(st.booleans()):
            out.update({f"{key}.{name}": inner for name, inner in item.items()})
        else:
            out[key] = item
    return out


@given(nested_events, st.data())
def test_dotted_keys_in_events_change_no_outcome(
    event: dict[str, Any], data: st.DataObject
) -> None:
    pattern = pattern_for(event, data)
    assume(pattern is not None)
    compiled = compile_pattern(pattern)
    assert compiled.matches(dotted(event, data)) is compiled.matches(event)


@given(nested_events, st.data())
def test_dotted_keys_in_patterns_change_no_outcome(
    event: dict[str, Any], data: st.DataObject
) -> None:
    pattern = pattern_for(event, data)
    assume(pattern is not None)
    written = dotted(pattern, data, in_arrays=False)  # a pattern's arrays are value lists
    assert matches(written, event) is matches(pattern, event)
