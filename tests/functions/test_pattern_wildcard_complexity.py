"""Wildcards too complex for EventBridge are refused, by event-ruler's measure.

EventBridge measures a pattern's wildcards with event-ruler's
MachineComplexityEvaluator (the most wildcard-pattern prefixes one value can be
matching at once, values read as JSON text) and refuses more than 10. The
measure itself is checked against the expectations of event-ruler's
MachineComplexityEvaluatorTest, restated below.
"""

from __future__ import annotations

from typing import Any

import pytest

from logway.functions.patterns import PatternError, compile_filters, compile_pattern
from logway.functions.patterns.complexity import wildcard_complexity

STAR = -1


def tokens(wildcard: str) -> tuple[int, ...]:
    """The bytes of an unescaped wildcard, '*' as STAR, without JSON quotes."""
    return tuple(STAR if b == ord("*") else b for b in wildcard.encode())


# (complexity, wildcard patterns of one machine), from MachineComplexityEvaluatorTest
EVENT_RULER: list[tuple[int, list[str]]] = [
    (1, ["*"]),
    (3, ["*", "ab*c"]),
    (1, ["abc"]),
    (2, ["*ab"]),
    (3, ["*aa"]),
    (2, ["a*b"]),
    (2, ["aa*"]),
    (2, ["a*bc"]),
    (3, ["a*bb"]),
    (3, ["a*bcb"]),
    (4, ["a*bbb"]),
    (4, ["*ab*ad"]),
    (3, ["*ab*d"]),
    (4, ["*aba*"]),
    (5, ["a*b*bb"]),
    (4, ["a*b*cb"]),
    (3, ["a*b*cd"]),
    (4, ["a*b*b"]),
    (4, ["a*bb*"]),
    (3, ["ab*b*"]),
    (3, ["ab*c", "x*xx"]),
    (4, ["*abc", "*abcde"]),
    (4, ["a*bcd", "ab*cd"]),
    (4, ["a*bc", "a*bcde"]),
    (7, ["a*aaa", "aa*aa"]),
    (4, ["a*bc", "abc*d"]),
    (6, ["a*aaa", "aaa*a"]),
    (5, ["a*aax", "aaa*x"]),
    (4, ["a*bc", "abc*"]),
    (5, ["a*aa", "aaa*"]),
    (3, ["abc*", "abcde*"]),
    (6, ["ab*cd", "ab*wx", "ab*yz"]),
    (7, ["*ab*b*b*"]),
    (17, ["*a*a*a*a*a*a*a*a*"]),
    (10, ["F*eatureFeature", "Fe*atureFeature", "Fea*tureFeature"]),
]


@pytest.mark.parametrize(("expected", "wildcards"), EVENT_RULER)
def test_the_measure_is_event_rulers(expected: int, wildcards: list[str]) -> None:
    assert wildcard_complexity([[tokens(w)] for w in wildcards], limit=100) == expected


def test_paths_of_one_pattern_count_their_shared_start_once() -> None:
    # an anything-but wildcard list is one pattern with several paths
    assert wildcard_complexity([[tokens("ab*c"), tokens("ab*d")]], limit=100) == 2
    assert wildcard_complexity([[tokens("ab*c")], [tokens("ab*d")]], limit=100) == 4


def refusal(pattern: Any) -> PatternError:
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    return caught.value


def test_a_wildcard_repeating_a_separator_after_stars_is_refused() -> None:
    error = refusal({"EventBusArn": [{"wildcard": "*:*:*:*:*:event-bus/*"}]})
    assert error.path == "EventBusArn"
    assert "too complex" in error.problem
    assert "keep 11 of their prefixes" in error.problem
    assert "at most 10" in error.problem
    assert "fewer '*'" in error.problem


def test_a_wildcard_with_its_fixed_parts_written_out_is_accepted() -> None:
    pattern = compile_pattern(
        {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}
    )
    assert pattern.matches(
        {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/orders"}
    )


@pytest.mark.parametrize(
    ("wildcard", "accepted"),
    [
        ("a*a*a*a*a*", True),  # 9, counting the opening quote of the JSON text
        ("a*a*a*a*a*a", True),  # 10
        ("a*a*a*a*a*a*", False),  # 11
        ("/Users/*" + "/dir" * 8 + "/doc.txt", True),  # 10: repeats after a star add up
        ("/Users/*" + "/dir" * 9 + "/doc.txt", False),  # 11
        ("/Users/" + "/dir" * 30 + "*/doc.txt", True),  # before the star they cost nothing
    ],
)
def test_the_limit_is_ten(wildcard: str, accepted: bool) -> None:
    pattern = {"f": [{"wildcard": wildcard}]}
    if accepted:
        compile_pattern(pattern)
    else:
        assert "too complex" in refusal(pattern).problem


DATASYNC = ["*/datasync/*.bif", "*/datasync/*.tif", "*/datasync/*.tiff", "*/datasync/*.svs"]


def test_the_wildcards_of_one_field_are_measured_together() -> None:
    compile_pattern({"key": [{"wildcard": w} for w in DATASYNC[:2]]})
    error = refusal({"key": [{"wildcard": w} for w in DATASYNC]})
    assert error.path == "key"
    # on different fields each is measured alone
    compile_pattern({f"key{i}": [{"wildcard": w}] for i, w in enumerate(DATASYNC)})


def test_anything_but_wildcards_count_too() -> None:
    error = refusal({"a": {"b": [{"anything-but": {"wildcard": "*:*:*:*:*:*:x"}}]}})
    assert error.path == "a.b"
    error = refusal({"a": [{"anything-but": {"wildcard": ["*:*:*:*:*:*:x", "y"]}}]})
    assert "too complex" in error.problem
    compile_pattern({"a": [{"anything-but": {"wildcard": ["*/x", "*/y"]}}]})


def test_or_branches_reaching_a_field_by_the_same_values_are_measured_together() -> None:
    branches = [{"key": [{"wildcard": w}]} for w in DATASYNC]
    assert "too complex" in refusal({"$or": branches}).problem
    # a field named before it ("id" < "key") with different values in each
    # branch leads each to its own place in event-ruler's machine
    separate = [{"id": [str(i)], **branch} for i, branch in enumerate(branches)]
    compile_pattern({"$or": separate})
    same = [{"id": ["0"], **branch} for branch in branches]
    assert "too complex" in refusal({"$or": same}).problem


def test_a_branch_without_wildcards_adds_nothing() -> None:
    compile_pattern(
        {"$or": [{"key": [{"wildcard": w}]} for w in DATASYNC[:2]] + [{"key": ["x", "y", "z"]}]}
    )


def test_each_filter_pattern_is_measured_alone() -> None:
    patterns = [{"key": [{"wildcard": w}]} for w in DATASYNC]
    assert compile_filters(patterns).matches({"key": "a/datasync/b.svs"})
    with pytest.raises(PatternError) as caught:
        compile_filters([{"key": ["x"]}, {"key": [{"wildcard": "*:*:*:*:*:*"}]}])
    assert caught.value.index == 1
    assert "too complex" in caught.value.problem
