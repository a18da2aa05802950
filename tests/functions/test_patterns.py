"""EventBridge event patterns as record filters.

The (pattern, event, expected) tables restate cases from aws/event-ruler's
README and Java tests (RulerTest, MachineTest, ACMachineTest,
GenericMachineTest, JsonRuleCompilerTest, CIDRTest and the array-consistency
cases of StructuredFinderTest) plus edge cases of our own; the property tests
check the algebra of the language against plain Python.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import sys
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from logway.errors import InvalidArgumentError
from logway.functions.patterns import (
    Filter,
    Pattern,
    PatternError,
    compile_filters,
    compile_pattern,
)

Case = tuple[Any, Any, bool]


def matches(pattern: Any, event: Any) -> bool:
    return compile_pattern(pattern).matches(event)


def table(cases: list[Case]) -> pytest.MarkDecorator:
    """Parametrize a test over (pattern, event, expected) rows, numbered."""
    return pytest.mark.parametrize(
        ("pattern", "event", "expected"),
        cases,
        ids=[f"{i}" for i in range(len(cases))],
    )


# ---------------------------------------------------------------------------
# The README of event-ruler

README_EVENT = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}

README_RULES_THAT_MATCH: list[dict[str, Any]] = [
    {
        "detail-type": ["EC2 Instance State-change Notification"],
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
        "detail": {"state": ["initializing", "running"]},
    },
    {"time": [{"prefix": "2017-10-02"}], "detail": {"state": [{"anything-but": "initializing"}]}},
    {
        "detail": {
            "source-ip": [{"cidr": "10.0.0.0/24"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    },
    {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
    {"detail": {"state": [{"prefix": {"equals-ignore-case": "RuNn"}}]}},
    {"detail": {"state": [{"suffix": "ning"}]}},
    {"detail": {"state": [{"suffix": {"equals-ignore-case": "nInG"}}]}},
    {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}},
    {"detail": {"source-ip": [{"cidr": "10.0.0.0/8"}]}},
    {"source": [{"suffix": "ec2"}]},
    {"source": [{"equals-ignore-case": "AWS.EC2"}]},
    {"source": [{"wildcard": "aws.*"}]},
    {"detail": {"c-count": [{"exists": True}]}},
    {"detail": {"e-count": [{"exists": False}]}},
    {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
    {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}},
    {"detail": {"x-limit": [{"anything-but": 123}]}},
    {"detail": {"instance-id": [{"anything-but": {"suffix": ["1234", "6789"]}}]}},
    {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}},
    {"detail": {"state": [{"anything-but": {"wildcard": ["*/bin/*.jar", "*/bin/*.class"]}}]}},
    {  # the "complex example"
        "time": [{"prefix": "2017-10-02"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}],
            "source-ip": [{"cidr": "10.0.0.0/8"}],
        },
    },
]

README_RULES_THAT_DO_NOT_MATCH: list[dict[str, Any]] = [
    {"detail": {"state": ["initializing"]}},
    {"detail": {"state": [{"anything-but": "running"}]}},
    {"detail": {"state": [{"anything-but": {"prefix": "run"}}]}},
    {"detail": {"c-count": [{"exists": False}]}},
    {"detail": {"c-count": [{"numeric": [">", 5]}]}},
    {"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}},
    {"source": [{"equals-ignore-case": "AWS.EC"}]},
    {"source": [{"prefix": {"equals-ignore-case": "EC2"}}]},
    {"detail": {"x-limit": [{"anything-but": [301.8]}]}},
]


@pytest.mark.parametrize("pattern", README_RULES_THAT_MATCH)
def test_readme_rules_match_the_readme_event(pattern: Any) -> None:
    assert matches(pattern, README_EVENT)
    assert matches(json.dumps(pattern), README_EVENT)  # same as JSON text


@pytest.mark.parametrize("pattern", README_RULES_THAT_DO_NOT_MATCH)
def test_readme_variants_that_do_not_match(pattern: Any) -> None:
    assert not matches(pattern, README_EVENT)


def test_readme_exists_false_ignores_non_leaf_fields() -> None:
    # "c-count" holds an object, so as a leaf it does not exist.
    event = {"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}}
    assert matches({"detail": {"c-count": [{"exists": False}]}}, event)
    assert not matches({"detail": {"c-count": [{"exists": True}]}}, event)
    assert matches({"detail": {"c-count": {"c1": [{"exists": True}]}}}, event)


# ---------------------------------------------------------------------------
# RulerTest: the "RFC" image event

RFC_EVENT = {
    "Image": {
        "Width": 800,
        "Height": 600,
        "Title": "View from 15th Floor",
        "Thumbnail": {"Url": "http://www.example.com/image/481989943", "Height": 125, "Width": 100},
        "Animated": False,
        "IDs": [116, 943, 234, 38793],
    }
}

RFC_CASES: list[Case] = [
    ({"Image": {"Width": [800], "Thumbnail": {"Height": [125, 300]}}}, RFC_EVENT, True),
    ({"Image": {"Thumbnail": {"Url": [{"prefix": "http"}]}}}, RFC_EVENT, True),
    ({"Image": {"Title": [{"prefix": {"equals-ignore-case": "VIeW"}}]}}, RFC_EVENT, True),
    ({"Image": {"Title": [{"suffix": {"equals-ignore-case": "LoOr"}}]}}, RFC_EVENT, True),
    ({"Image": {"Title": [{"suffix": "loor"}]}}, RFC_EVENT, True),
    (
        {
            "Image": {
                "Width": [{"numeric": ["<", 1000]}],
                "Height": [{"numeric": ["<=", 600]}],
                "Title": [{"anything-but": "View from 15th Flood"}],
                "Thumbnail": {
                    "Url": [{"prefix": "http"}],
                    "Height": [{"numeric": [">", 124, "<", 126]}],
                    "Width": [{"numeric": [">=", 99.999, "<=", 100]}],
                },
                "Animated": [False],
            }
        },
        RFC_EVENT,
        True,
    ),
    ({"Image": {"IDs": [943]}}, RFC_EVENT, True),
    ({"Image": {"IDs": [{"numeric": [">", 30000]}]}}, RFC_EVENT, True),
    ({"Image": {"Width": [{"numeric": ["<", 800]}]}}, RFC_EVENT, False),
    ({"Image": {"Height": [{"numeric": ["<", 599]}]}}, RFC_EVENT, False),
    ({"Image": {"Title": [{"anything-but": "View from 15th Floor"}]}}, RFC_EVENT, False),
    ({"Image": {"Thumbnail": {"Url": [{"prefix": "https"}]}}}, RFC_EVENT, False),
    ({"Image": {"Thumbnail": {"Height": [{"numeric": [">", 124, "<", 125]}]}}}, RFC_EVENT, False),
    (
        {"Image": {"Thumbnail": {"Width": [{"numeric": [">=", 100.00001, "<=", 1001]}]}}},
        RFC_EVENT,
        False,
    ),
    ({"Image": {"Animated": [True]}}, RFC_EVENT, False),
    ({"Image": {"IDs": [117]}}, RFC_EVENT, False),
]


@table(RFC_CASES)
def test_rfc_image_event(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


# ---------------------------------------------------------------------------
# Exact values

EXACT_CASES: list[Case] = [
    ({"a": ["x"]}, {"a": "x"}, True),
    ({"a": ["x"]}, {"a": "X"}, False),
    ({"a": ["x"]}, {"b": "x"}, False),
    ({"a": ["x", "y"]}, {"a": "y"}, True),
    ({"a": [""]}, {"a": ""}, True),
    ({"a": [""]}, {"a": None}, False),  # null and "" are not interchangeable
    ({"a": [None]}, {"a": None}, True),
    ({"a": [None]}, {"a": ""}, False),
    ({"a": [None]}, {}, False),
    ({"a": [None]}, {"a": "null"}, False),
    ({"a": [True]}, {"a": True}, True),
    ({"a": [True]}, {"a": False}, False),
    ({"a": [True]}, {"a": 1}, False),  # JSON true is no number
    ({"a": [True]}, {"a": "true"}, False),
    ({"a": [1]}, {"a": True}, False),
    ({"a": [0]}, {"a": False}, False),
    ({"a": [False]}, {"a": 0}, False),
    ({"a": [False]}, {"a": False}, True),
    ({"a": [1]}, {"a": 1}, True),
    ({"a": [1]}, {"a": 1.0}, True),  # numbers compare by value
    ({"a": [1.0]}, {"a": 1}, True),
    ({"a": [3.018e2]}, {"a": 301.8}, True),
    ({"a": [1e2]}, {"a": 100}, True),
    ({"a": [-0.5]}, {"a": -0.5}, True),
    ({"a": [0]}, {"a": -0.0}, True),
    ({"a": [1]}, {"a": "1"}, False),  # no type coercion either way
    ({"a": ["1"]}, {"a": 1}, False),
    ({"a": [123456789012]}, {"a": 123456789012}, True),  # JsonRuleCompilerTest.testBigNumbers
    ({"a": [123456789012345678901]}, {"a": 123456789012345678901}, True),
    ({"a": [2**53]}, {"a": 2**53 + 1}, False),
    # ints event-ruler cannot compare as doubles match only themselves, as text
    ({"a": [2**60]}, {"a": 2**60}, True),
    ({"a": [2**60]}, {"a": float(2**60)}, False),
    ({"a": [float(2**60)]}, {"a": 2**60}, False),
    ({"a": [10**20]}, {"a": 1e20}, True),  # 10**20 is the shortest form of 1e20
    ({"a": [{"anything-but": float(2**60)}]}, {"a": 2**60}, True),
    ({"a": [{"anything-but": float(2**60)}]}, {"a": float(2**60)}, False),
    ({"a": [133.3]}, {"a": 133.3}, True),  # testVariantForms
    ({"a": [133.3]}, {"a": 133.30000000000001}, True),  # the same double
    ({"x": ["X"]}, {"x": True}, False),  # RulerTest.WHEN_WeTryReallySimpleRules
    ({"a": [1]}, {"a": {"b": 1}}, False),  # an object is not a value
    ({"a": ["x"]}, {"a": []}, False),
    ({"a": ["x"]}, {"a": ["y", "x"]}, True),  # any element of an array
    ({"a": ["x"]}, {"a": [["y"], ["z", ["x"]]]}, True),  # nested arrays flatten
    ({"a": ["x"]}, {"a": [{"b": "x"}]}, False),
    ({"a": [1, "1"]}, {"a": [2, "1"]}, True),
    ({"foo": {"bar": ["ab"]}}, {"foo": {"bar": ["ab", "cd"]}}, True),
    ({"foo": {"bar": ["cd"]}}, {"foo": {"bar": ["ab", "cd"]}}, True),
    ({"a": {"b": ["x"]}}, {"a": "x"}, False),
    ({"a": {"b": ["x"]}}, {"a": {"b": {"c": "x"}}}, False),
    ({"a.b": ["x"]}, {"a.b": "x"}, True),  # a dotted key names a path (more in
    ({"a.b": ["x"]}, {"a": {"b": "x"}}, True),  # test_pattern_dotted_keys.py)
    ({"a": [{"exactly": "x"}]}, {"a": "x"}, True),
    ({"a": [{"exactly": "x"}]}, {"a": "xx"}, False),
    ({"a": ["统治者"]}, {"a": "统治者"}, True),
    ({"a": ["café"]}, {"a": "cafe\u0301"}, False),  # no Unicode normalisation
]


@table(EXACT_CASES)
def test_exact_values(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


# ---------------------------------------------------------------------------
# Prefix, suffix, equals-ignore-case

STRING_CASES: list[Case] = [
    # MachineTest.testPrefixMatching / testSuffixMatching
    ({"a": [{"prefix": "zoo"}]}, {"a": "zookeeper"}, True),
    ({"a": [{"prefix": "zoo"}]}, {"a": "zoo"}, True),
    ({"a": [{"prefix": "zoo"}]}, {"a": "zo"}, False),
    ({"a": [{"prefix": "zoo"}]}, {"a": "Zookeeper"}, False),
    ({"b": [{"prefix": "child"}]}, {"b": "childish"}, True),
    ({"a": [{"prefix": "al"}, "albert"]}, {"a": "albert"}, True),
    ({"a": [{"suffix": "er"}]}, {"a": "zookeeper"}, True),
    ({"a": [{"suffix": "er"}]}, {"a": "er"}, True),
    ({"a": [{"suffix": "er"}]}, {"a": "e"}, False),
    ({"b": [{"suffix": "txt"}]}, {"b": "Texttxt"}, True),
    ({"b": [{"suffix": "txt"}]}, {"b": "amazon.txt"}, True),
    ({"b": [{"suffix": "txt"}]}, {"b": "amazon.TXT"}, False),
    # strings only
    ({"a": [{"prefix": "1"}]}, {"a": 12}, False),
    ({"a": [{"suffix": "2"}]}, {"a": 12}, False),
    ({"a": [{"prefix": "tr"}]}, {"a": True}, False),
    ({"a": [{"prefix": "nu"}]}, {"a": None}, False),
    ({"a": [{"prefix": ""}]}, {"a": ""}, True),  # every string has the empty prefix
    ({"a": [{"prefix": ""}]}, {"a": "x"}, True),
    ({"a": [{"prefix": ""}]}, {"a": 0}, False),
    ({"a": [{"suffix": ""}]}, {"a": "x"}, True),
    ({"a": [{"prefix": "x"}, {"prefix": "y"}]}, {"a": ["a", "yz"]}, True),
    ({"a": [{"prefix": "x"}, {"suffix": "z"}]}, {"a": "az"}, True),
    # MachineTest.testSuffixChineseMatch
    (
        {"status": {"weatherText": [{"suffix": "统治者"}]}},
        {"status": {"weatherText": "事件统治者", "pm25": 23}},
        True,
    ),
    ({"a": [{"prefix": "事件"}]}, {"a": "事件统治者"}, True),
    # MachineTest.testEqualsIgnoreCaseMatching
    ({"a": [{"equals-ignore-case": "aBc"}]}, {"a": "abc"}, True),
    ({"a": [{"equals-ignore-case": "aBc"}]}, {"a": "AbC"}, True),
    ({"a": [{"equals-ignore-case": "aBc"}]}, {"a": "aabc"}, False),
    ({"b": [{"equals-ignore-case": "XyZ"}]}, {"b": "XYZ"}, True),
    ({"b": [{"equals-ignore-case": "XyZ"}]}, {"b": "xyzz"}, False),
    ({"b": [{"equals-ignore-case": "xyZ"}]}, {"b": "ABCXYZ"}, False),
    ({"a": [{"equals-ignore-case": ""}]}, {"a": ""}, True),
    ({"a": [{"equals-ignore-case": "1"}]}, {"a": 1}, False),
    ({"a": [{"equals-ignore-case": "true"}]}, {"a": True}, False),
    # event-ruler compares character by character: a character matches itself
    # or its lower or upper case, nothing else
    ({"a": [{"equals-ignore-case": "ÉCOLE"}]}, {"a": "école"}, True),
    ({"a": [{"equals-ignore-case": "straße"}]}, {"a": "STRASSE"}, True),
    ({"a": [{"equals-ignore-case": "straße"}]}, {"a": "Straße"}, True),
    ({"a": [{"equals-ignore-case": "STRASSE"}]}, {"a": "straße"}, False),
    ({"a": [{"equals-ignore-case": "k"}]}, {"a": "\u212a"}, False),  # KELVIN SIGN lowers to k
    ({"a": [{"equals-ignore-case": "\u212a"}]}, {"a": "k"}, True),
    ({"a": [{"equals-ignore-case": "ΣΊΣΥΦΟΣ"}]}, {"a": "σίσυφοσ"}, True),
    ({"a": [{"equals-ignore-case": "\U00010400"}]}, {"a": "\U00010428"}, False),  # UTF-16 units
    # prefix / suffix with equals-ignore-case
    ({"a": [{"prefix": {"equals-ignore-case": "EventB"}}]}, {"a": "eventbridge"}, True),
    ({"a": [{"prefix": {"equals-ignore-case": "EventB"}}]}, {"a": "EVENTB"}, True),
    ({"a": [{"prefix": {"equals-ignore-case": "EventB"}}]}, {"a": "Event"}, False),
    ({"a": [{"prefix": {"equals-ignore-case": "EventB"}}]}, {"a": "xeventb"}, False),
    ({"a": [{"prefix": {"equals-ignore-case": "k"}}]}, {"a": "\u212aelvin"}, False),
    ({"a": [{"prefix": {"equals-ignore-case": "straße"}}]}, {"a": "STRASSE-1"}, True),
    ({"a": [{"prefix": {"equals-ignore-case": ""}}]}, {"a": "anything"}, True),
    ({"a": [{"prefix": {"equals-ignore-case": "x"}}]}, {"a": 5}, False),
    ({"a": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"a": "photo.PNG"}, True),
    ({"a": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"a": "photo.png"}, True),
    ({"a": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"a": "photo.pngx"}, False),
    ({"a": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"a": "png"}, False),
    ({"a": [{"suffix": {"equals-ignore-case": "ÉTÉ"}}]}, {"a": "l'été"}, True),
    ({"a": [{"suffix": {"equals-ignore-case": "ÉTÉ"}}]}, {"a": "l'étéx"}, False),
    ({"a": [{"suffix": {"equals-ignore-case": ""}}]}, {"a": "x"}, True),
    ({"a": [{"suffix": {"equals-ignore-case": "统治者"}}]}, {"a": "事件统治者"}, True),
]


@table(STRING_CASES)
def test_string_operators(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_equals_ignore_case_rules_of_rulertest() -> None:
    rule = {
        "a": [{"equals-ignore-case": "aBc"}],
        "b": [{"equals-ignore-case": "Def"}],
        "c": [{"equals-ignore-case": "xyZ"}],
    }
    events = [
        {"a": "ABC", "b": "defx", "c": "xYz", "d": "rst"},
        {"a": "ABC", "c": "xYz", "d": "rst"},
        {"a": "ABC", "b": "xYz", "c": "def", "d": "rst"},
        {"a": "ABC", "b": "def", "c": "xYz", "d": "rst"},
    ]
    assert [matches(rule, e) for e in events] == [False, False, False, True]


# ---------------------------------------------------------------------------
# Wildcard

WILDCARD_CASES: list[Case] = [
    # MachineTest.testWildcardMatching
    ({"a": [{"wildcard": "*bc"}]}, {"a": "bc"}, True),
    ({"a": [{"wildcard": "*bc"}]}, {"a": "abc"}, True),
    ({"a": [{"wildcard": "*bc"}]}, {"a": "xyz"}, False),
    ({"b": [{"wildcard": "d*f"}]}, {"b": "dexef"}, True),
    ({"b": [{"wildcard": "d*f"}]}, {"b": "df"}, True),
    ({"b": [{"wildcard": "d*f"}]}, {"b": "ef"}, False),
    ({"b": [{"wildcard": "d*f"}]}, {"b": "de"}, False),
    ({"b": [{"wildcard": "d*ff"}]}, {"b": "dexeff"}, True),
    ({"b": [{"wildcard": "d*ff"}]}, {"b": "dexef"}, False),
    ({"c": [{"wildcard": "xy*"}]}, {"c": "xyzzz"}, True),
    ({"c": [{"wildcard": "xy*"}]}, {"c": "xy"}, True),
    ({"c": [{"wildcard": "xy*"}]}, {"c": "abcxyz"}, False),
    ({"d": [{"wildcard": "12*4*"}]}, {"d": "12345"}, True),
    ({"d": [{"wildcard": "12*4*"}]}, {"d": "1235"}, False),
    # more shapes
    ({"a": [{"wildcard": "*"}]}, {"a": ""}, True),
    ({"a": [{"wildcard": "*"}]}, {"a": "anything"}, True),
    ({"a": [{"wildcard": "*"}]}, {"a": 5}, False),  # strings only
    ({"a": [{"wildcard": "*"}]}, {"a": None}, False),
    ({"a": [{"wildcard": ""}]}, {"a": ""}, True),
    ({"a": [{"wildcard": ""}]}, {"a": "x"}, False),
    ({"a": [{"wildcard": "abc"}]}, {"a": "abc"}, True),  # no star: equality
    ({"a": [{"wildcard": "abc"}]}, {"a": "abcd"}, False),
    ({"a": [{"wildcard": "*a*b*c*"}]}, {"a": "xaybzc"}, True),
    ({"a": [{"wildcard": "*a*b*c*"}]}, {"a": "abc"}, True),
    ({"a": [{"wildcard": "*a*b*c*"}]}, {"a": "xcba"}, False),
    ({"a": [{"wildcard": "a*a"}]}, {"a": "a"}, False),  # the two a's cannot overlap
    ({"a": [{"wildcard": "a*a"}]}, {"a": "aa"}, True),
    ({"a": [{"wildcard": "ab*ba"}]}, {"a": "aba"}, False),
    ({"a": [{"wildcard": "ab*ba"}]}, {"a": "abba"}, True),
    ({"a": [{"wildcard": "*ab*ab"}]}, {"a": "abab"}, True),
    ({"a": [{"wildcard": "*ab*ab"}]}, {"a": "aab"}, False),
    ({"a": [{"wildcard": "x*y*y*z"}]}, {"a": "xyyz"}, True),
    ({"a": [{"wildcard": "x*y*y*z"}]}, {"a": "xyz"}, False),
    ({"a": [{"wildcard": "*/lib/*"}]}, {"a": "/usr/lib/x.so"}, True),
    ({"a": [{"wildcard": "é*ü"}]}, {"a": "éxyzü"}, True),
    ({"a": [{"wildcard": "Simple*Service"}]}, {"a": "SimpleQueueService"}, True),
    ({"a": [{"wildcard": "Simple*Service"}]}, {"a": ["x", "SimpleService"]}, True),
    # escapes: \* is a literal star, \\ a literal backslash
    ({"a": [{"wildcard": "a\\*b"}]}, {"a": "a*b"}, True),
    ({"a": [{"wildcard": "a\\*b"}]}, {"a": "axb"}, False),
    ({"a": [{"wildcard": "a\\*b"}]}, {"a": "a\\xb"}, False),
    ({"a": [{"wildcard": "a\\\\*"}]}, {"a": "a\\xyz"}, True),
    ({"a": [{"wildcard": "a\\\\*"}]}, {"a": "axyz"}, False),
    ({"a": [{"wildcard": "*\\**"}]}, {"a": "2*3"}, True),
    ({"a": [{"wildcard": "*\\**"}]}, {"a": "23"}, False),
    ({"a": [{"wildcard": "\\\\\\*"}]}, {"a": "\\*"}, True),
]


@table(WILDCARD_CASES)
def test_wildcard(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_wildcard_rules_of_rulertest() -> None:
    rule = {
        "a": [{"wildcard": "*bc"}],
        "b": [{"wildcard": "d*f"}],
        "c": [{"wildcard": "xy*"}],
        "d": [{"wildcard": "xy*"}],
    }
    events = [
        {"a": "abcbc", "b": "deeeefx", "c": "xy", "d": "xyzzz"},
        {"a": "abcbc", "b": "deeeef", "d": "xyzzz"},
        {"a": "abcbc", "b": "xy", "c": "deeeef", "d": "xyzzz"},
        {"a": "abcbc", "b": "deeeef", "c": "xy", "d": "xyzzz"},
    ]
    assert [matches(rule, e) for e in events] == [False, False, False, True]


# ---------------------------------------------------------------------------
# Anything-but

ANYTHING_BUT_CASES: list[Case] = [
    ({"s": [{"anything-but": "initializing"}]}, {"s": "running"}, True),
    ({"s": [{"anything-but": "initializing"}]}, {"s": "initializing"}, False),
    ({"s": [{"anything-but": "initializing"}]}, {}, False),  # the field must be there
    ({"s": [{"anything-but": "initializing"}]}, {"s": {"x": 1}}, False),
    ({"s": [{"anything-but": "initializing"}]}, {"s": []}, False),
    # values of another JSON type are never refused
    ({"s": [{"anything-but": "5"}]}, {"s": 5}, True),
    ({"s": [{"anything-but": "x"}]}, {"s": None}, True),
    ({"s": [{"anything-but": "true"}]}, {"s": True}, True),
    ({"n": [{"anything-but": 123}]}, {"n": "123"}, True),
    ({"n": [{"anything-but": 123}]}, {"n": None}, True),
    ({"n": [{"anything-but": 1}]}, {"n": True}, True),
    ({"n": [{"anything-but": 123}]}, {"n": 123}, False),
    ({"n": [{"anything-but": 123}]}, {"n": 123.0}, False),
    ({"n": [{"anything-but": 123}]}, {"n": 124}, True),
    ({"n": [{"anything-but": [100, 200, 300]}]}, {"n": 200.0}, False),
    ({"n": [{"anything-but": [100, 200, 300]}]}, {"n": 250}, True),
    ({"n": [{"anything-but": [0.1, -2.5]}]}, {"n": -2.5}, False),
    ({"s": [{"anything-but": ["stopped", "overloaded"]}]}, {"s": "overloaded"}, False),
    ({"s": [{"anything-but": ["stopped", "overloaded"]}]}, {"s": "Stopped"}, True),
    # arrays: every value is judged on its own
    ({"s": [{"anything-but": "x"}]}, {"s": ["x", "y"]}, True),
    ({"s": [{"anything-but": "x"}]}, {"s": ["x"]}, False),
    ({"s": [{"anything-but": "x"}]}, {"s": ["x", "x"]}, False),
    ({"s": [{"anything-but": "x"}]}, {"s": ["x", 1]}, True),
    # ACMachineTest.testAnythingButPrefix / Suffix (and their sets)
    ({"a": [{"anything-but": {"prefix": "$"}}]}, {"a": "value$"}, True),
    ({"a": [{"anything-but": {"prefix": "$"}}]}, {"a": "notvalue"}, True),
    ({"a": [{"anything-but": {"prefix": "$"}}]}, {"a": "$notvalue"}, False),
    ({"a": [{"anything-but": {"prefix": ["$", "%"]}}]}, {"a": "notvalue%"}, True),
    ({"a": [{"anything-but": {"prefix": ["$", "%"]}}]}, {"a": "%notvalue"}, False),
    ({"a": [{"anything-but": {"prefix": "$"}}]}, {"a": 5}, True),
    ({"a": [{"anything-but": {"suffix": "$"}}]}, {"a": "value$"}, False),
    ({"a": [{"anything-but": {"suffix": "$"}}]}, {"a": "notvalue"}, True),
    ({"a": [{"anything-but": {"suffix": "$"}}]}, {"a": "$notvalue"}, True),
    ({"a": [{"anything-but": {"suffix": ["$", "%"]}}]}, {"a": "notvalue%"}, False),
    ({"a": [{"anything-but": {"suffix": ["$", "%"]}}]}, {"a": "%notvalue"}, True),
    ({"a": [{"anything-but": {"suffix": "$"}}]}, {"a": None}, True),
    # ACMachineTest.testAnythingButWildcard / testAnythingButWildcardSet
    ({"a": [{"anything-but": {"wildcard": "*foo*"}}]}, {"a": "foo"}, False),
    ({"a": [{"anything-but": {"wildcard": "*foo*"}}]}, {"a": "foobar"}, False),
    ({"a": [{"anything-but": {"wildcard": "*foo*"}}]}, {"a": "barfoo"}, False),
    ({"a": [{"anything-but": {"wildcard": "*foo*"}}]}, {"a": "barfoobar"}, False),
    ({"a": [{"anything-but": {"wildcard": "*foo*"}}]}, {"a": "barfobarobar"}, True),
    ({"a": [{"anything-but": {"wildcard": ["*foo*", "*bar*"]}}]}, {"a": "sfoos"}, False),
    ({"a": [{"anything-but": {"wildcard": ["*foo*", "*bar*"]}}]}, {"a": "sbars"}, False),
    ({"a": [{"anything-but": {"wildcard": ["*foo*", "*bar*"]}}]}, {"a": "fobaor"}, True),
    ({"a": [{"anything-but": {"wildcard": "plain"}}]}, {"a": "plain"}, False),
    ({"a": [{"anything-but": {"wildcard": "plain"}}]}, {"a": "plainer"}, True),
    ({"a": [{"anything-but": {"wildcard": ""}}]}, {"a": ""}, False),
    ({"a": [{"anything-but": {"wildcard": "*"}}]}, {"a": 3}, True),
    # equals-ignore-case
    ({"a": [{"anything-but": {"equals-ignore-case": "no"}}]}, {"a": "No"}, False),
    ({"a": [{"anything-but": {"equals-ignore-case": "no"}}]}, {"a": "No!"}, True),
    ({"a": [{"anything-but": {"equals-ignore-case": "straße"}}]}, {"a": "STRASSE"}, False),
    ({"a": [{"anything-but": {"equals-ignore-case": ["abc", ""]}}]}, {"a": ""}, False),
    ({"a": [{"anything-but": {"equals-ignore-case": "x"}}]}, {"a": False}, True),
    # combined with other alternatives (OR)
    ({"a": ["b", {"anything-but": "b"}]}, {"a": "b"}, True),
    ({"a": [5, {"anything-but": "x"}]}, {"a": "x"}, False),
]


@table(ANYTHING_BUT_CASES)
def test_anything_but(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_anything_but_rules_of_rulertest() -> None:
    rule = {
        "a": [{"anything-but": ["dad0", "dad1", "dad2"]}],
        "b": [{"anything-but": [111, 222, 333]}],
        "c": [{"anything-but": "zdd"}],
        "d": [{"anything-but": 444}],
        "z": [{"numeric": [">", 0, "<", 1]}],
        "w": [{"anything-but": {"prefix": "zax"}}],
        "n": [{"anything-but": {"suffix": "ing"}}],
        "o": [{"anything-but": {"equals-ignore-case": "CamelCase"}}],
        "p": [{"anything-but": {"equals-ignore-case": ["CamelCase", "AbC"]}}],
    }
    base = {
        "a": "child1",
        "b": "444",  # a string passes a numeric anything-but
        "c": "child1",
        "d": 123,
        "w": "xaz",
        "z": 0.001,
        "n": "nomatch",
        "o": "nomatch",
        "p": "nomatch",
    }
    variants: list[dict[str, Any]] = [
        {},
        {"a": "dad789", "b": 789, "c": "zdd"},
        {"a": "dad789", "b": 789, "z": 1.01},
        {"a": "dad1", "b": 345},
        {"a": "abc", "b": 111},
        {"a": "dad1", "b": 333},
        {"a": "abc", "b": 0, "d": 444, "z": 0.999999},
        {"w": "zaxonie"},
        {"n": "matching"},
        {"o": "camelcase"},
        {"p": "abc"},
    ]
    got = [matches(rule, {**base, **variant}) for variant in variants]
    assert got == [True] + [False] * 10


def test_anything_but_equals_ignore_case_of_acmachinetest() -> None:
    rule = {
        "a": [{"anything-but": {"equals-ignore-case": ["yes", "please"]}}],
        "b": [{"anything-but": {"equals-ignore-case": "no"}}],
    }
    events = [
        ("value", "nothing"),
        ("YES", "nothing"),
        ("yEs", "nothing"),
        ("pLease", "nothing"),
        ("PLEASE", "nothing"),
        ("please", "nothing"),
        ("please", "no"),
        ("please", "No"),
        ("please", "No!"),
    ]
    got = [matches(rule, {"a": a, "b": b}) for a, b in events]
    assert got == [True] + [False] * 8


# ---------------------------------------------------------------------------
# Numeric

NUMERIC_CASES: list[Case] = [
    ({"x": [{"numeric": ["=", 0]}]}, {"x": 0}, True),
    ({"x": [{"numeric": ["=", 0]}]}, {"x": -0.0}, True),
    ({"x": [{"numeric": ["=", 1]}]}, {"x": 1.0}, True),
    ({"x": [{"numeric": ["=", 1]}]}, {"x": True}, False),
    ({"x": [{"numeric": ["=", 1]}]}, {"x": "1"}, False),
    ({"x": [{"numeric": ["=", 3.018e2]}]}, {"x": 301.8}, True),
    ({"x": [{"numeric": ["<", 0]}]}, {"x": -0.1}, True),
    ({"x": [{"numeric": ["<", 0]}]}, {"x": 0}, False),
    ({"x": [{"numeric": ["<", 0]}]}, {"x": -0.0}, False),
    ({"x": [{"numeric": ["<=", 0]}]}, {"x": 0}, True),
    ({"x": [{"numeric": [">", 0]}]}, {"x": 1}, True),
    ({"x": [{"numeric": [">", 0]}]}, {"x": 0}, False),
    ({"x": [{"numeric": [">", 0]}]}, {"x": 5e-324}, True),  # the smallest double above 0
    ({"x": [{"numeric": [">", 0]}]}, {"x": -5e-324}, False),
    ({"x": [{"numeric": [">=", 0]}]}, {"x": -0.0}, True),
    ({"x": [{"numeric": [">", 0, "<", 1]}]}, {"x": 0.1}, True),
    ({"x": [{"numeric": [">", 0, "<", 1]}]}, {"x": 1}, False),
    ({"x": [{"numeric": [">=", 0, "<", 1]}]}, {"x": 0}, True),
    ({"x": [{"numeric": [">", 0, "<=", 1]}]}, {"x": 1.0}, True),
    ({"x": [{"numeric": [">", 0, "<=", 5]}]}, {"x": 5}, True),
    ({"x": [{"numeric": [">", 0, "<=", 5]}]}, {"x": 5.000000000000001}, False),
    # negative numbers and decimals
    ({"x": [{"numeric": [">", -10, "<", -5]}]}, {"x": -7.5}, True),
    ({"x": [{"numeric": [">", -10, "<", -5]}]}, {"x": -5}, False),
    ({"x": [{"numeric": [">", -10, "<", -5]}]}, {"x": -10}, False),
    ({"x": [{"numeric": [">", -10, "<", -5]}]}, {"x": -10.000001}, False),
    ({"x": [{"numeric": [">=", -122.413496, "<=", -122.413495]}]}, {"x": -122.4134955}, True),
    ({"x": [{"numeric": [">=", 0.000001]}]}, {"x": 0.000002}, True),
    ({"x": [{"numeric": [">=", 0.000001]}]}, {"x": 0.0000009}, False),
    ({"x": [{"numeric": ["<", 3.9]}]}, {"x": 3.8}, True),
    ({"x": [{"numeric": ["=", 0.1]}]}, {"x": 0.1}, True),
    ({"x": [{"numeric": ["=", 0.3]}]}, {"x": 0.1 + 0.2}, False),  # a different double
    ({"x": [{"numeric": ["<", -4e-6]}]}, {"x": -5e-6}, True),
    ({"x": [{"numeric": [">", 1e-320]}]}, {"x": 1e-319}, True),
    # large values (event-ruler compares the full double range)
    ({"x": [{"numeric": [">", 5e11]}]}, {"x": 5e11}, False),
    ({"x": [{"numeric": [">", 5e11]}]}, {"x": 500_000_000_000.001}, True),
    ({"x": [{"numeric": [">", -5e11, "<", -4_999_999_999.99999]}]}, {"x": -5_000_000_000}, True),
    ({"x": [{"numeric": ["<", 1e300]}]}, {"x": 1e299}, True),
    ({"x": [{"numeric": [">", 1e300]}]}, {"x": 1.7976931348623157e308}, True),
    ({"x": [{"numeric": [">=", 123456789012]}]}, {"x": 123456789012}, True),
    # event-ruler takes an int for a number only if it is the shortest decimal
    # form of its double: 2**60 prints as 1.152921504606847E18, so it is text
    ({"x": [{"numeric": [">", 0]}]}, {"x": 2**60}, False),
    ({"x": [{"numeric": [">", 0]}]}, {"x": 2**53 + 1}, False),
    ({"x": [{"numeric": [">", 0]}]}, {"x": 2**53 + 2}, True),
    ({"x": [{"numeric": [">", 0]}]}, {"x": 10**20}, True),
    ({"x": [{"numeric": ["=", 1e20]}]}, {"x": 10**20}, True),
    ({"x": [{"numeric": [">", 0]}]}, {"x": 10**400}, False),
    ({"x": [{"numeric": ["<", 0]}]}, {"x": -(2**53) - 1}, False),
    ({"x": [{"numeric": ["<", 0]}]}, {"x": -(2**53)}, True),
    # not numbers, or not finite
    ({"x": [{"numeric": [">", 0]}]}, {"x": "5"}, False),
    ({"x": [{"numeric": [">", 0]}]}, {"x": None}, False),
    ({"x": [{"numeric": [">", 0]}]}, {"x": True}, False),
    ({"x": [{"numeric": [">", 0]}]}, {}, False),
    ({"x": [{"numeric": [">", 0]}]}, {"x": {"y": 1}}, False),
    ({"x": [{"numeric": [">", 0]}]}, {"x": math.inf}, False),
    ({"x": [{"numeric": ["<", 0]}]}, {"x": -math.inf}, False),
    ({"x": [{"numeric": [">", 0]}]}, {"x": math.nan}, False),
    ({"x": [{"numeric": ["<", 10]}]}, {"x": [50, 1]}, True),
    ({"x": [{"numeric": ["<", 10]}]}, {"x": [50, "1"]}, False),
    # several ranges OR-ed
    ({"x": [{"numeric": ["<", 0]}, {"numeric": [">", 10]}]}, {"x": 5}, False),
    ({"x": [{"numeric": ["<", 0]}, {"numeric": [">", 10]}]}, {"x": 11}, True),
    ({"x": [{"numeric": ["<", 0]}, 5]}, {"x": 5.0}, True),
]


@table(NUMERIC_CASES)
def test_numeric(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_numeric_rule_of_acmachinetest() -> None:
    rule = {
        "a": [{"numeric": ["=", 0]}],
        "b": [{"numeric": ["<", 0]}],
        "c": [{"numeric": ["<=", 0]}],
        "x": [{"numeric": [">", 0]}],
        "y": [{"numeric": [">=", 0]}],
        "z": [{"numeric": [">", 0, "<", 1]}],
    }
    event = {"a": [0], "b": [-0.1], "c": [0], "x": [1], "y": [0], "z": [0.1]}
    assert matches(rule, event)


COMPARABLE_NUMBERS = [
    -5e11, -499_999_999_999.99999, -499_999_999_999.99998, -5_000_000_000.0,
    -4_999_999_999.99999, -999999999.99999, -999999999.99, -10000, -122.413496,
    -0.000002, 0, 0.000001, 3.8, 3.9, 11, 12, 122.415028, 2.5e4, 999999999.999998,
    999999999.999999, 4_999_999_999.99997, 5_000_000_000.0, 499_999_999_999.99999, 5e11,
]  # fmt: skip


def test_numbers_order_like_rulertest_comparable_numbers() -> None:
    # RulerTest.WHEN_CompareIsPassedComparableNumbers_THEN_ItOrdersThemCorrectly
    for bound in COMPARABLE_NUMBERS:
        below = compile_pattern({"x": [{"numeric": ["<", bound]}]})
        equal = compile_pattern({"x": [{"numeric": ["=", bound]}]})
        above = compile_pattern({"x": [{"numeric": [">", bound]}]})
        for value in COMPARABLE_NUMBERS:
            event = {"x": value}
            assert below.matches(event) is (value < bound)
            assert equal.matches(event) is (value == bound)
            assert above.matches(event) is (value > bound)


# ---------------------------------------------------------------------------
# IP addresses

CIDR_CASES: list[Case] = [
    ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.33"}, True),
    ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.33"}, False),
    ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.255"}, True),
    ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "9.255.255.255"}, False),
    ({"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "255.255.255.255"}, True),
    # MachineTest.testIPAddressOfCIDRIsEqualToMaximumOfRange
    ({"ip": [{"cidr": "220.160.153.171/31"}]}, {"ip": "220.160.153.170"}, True),
    ({"ip": [{"cidr": "220.160.153.171/31"}]}, {"ip": "220.160.153.171"}, True),
    ({"ip": [{"cidr": "220.160.153.171/31"}]}, {"ip": "220.160.153.169"}, False),
    ({"ip": [{"cidr": "220.160.153.171/31"}]}, {"ip": "220.160.153.172"}, False),
    ({"ip": [{"cidr": "220.160.154.255/24"}]}, {"ip": "220.160.154.0"}, True),
    ({"ip": [{"cidr": "220.160.154.255/24"}]}, {"ip": "220.160.153.255"}, False),
    ({"ip": [{"cidr": "220.160.154.255/24"}]}, {"ip": "220.160.155.0"}, False),
    # CIDRTest ranges
    ({"ip": [{"cidr": "13.32.0.0/15"}]}, {"ip": "13.33.255.255"}, True),
    ({"ip": [{"cidr": "13.32.0.0/15"}]}, {"ip": "13.34.0.0"}, False),
    ({"ip": [{"cidr": "2600:1F14::/35"}]}, {"ip": "2600:1f14:1fff:ffff::1"}, True),
    ({"ip": [{"cidr": "2600:1F14::/35"}]}, {"ip": "2600:1f14:2000::"}, False),
    (
        {"ip": [{"cidr": "2400:6500:FF00::36FB:1F80/122"}]},
        {"ip": "2400:6500:ff00::36fb:1fbf"},
        True,
    ),
    (
        {"ip": [{"cidr": "2400:6500:FF00::36FB:1F80/122"}]},
        {"ip": "2400:6500:ff00::36fb:1fc0"},
        False,
    ),
    ({"ip": [{"cidr": "::1/24"}]}, {"ip": "0:0:ff::"}, True),
    # families do not mix; non-addresses never match
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "a00::1"}, False),
    ({"ip": [{"cidr": "::/0"}]}, {"ip": "10.0.0.1"}, False),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "::ffff:a00:1"}, True),  # IPv4-mapped
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.0.0"}, False),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.0.0.256"}, False),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "010.0.0.01"}, True),  # decimal, as in Java
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.0.0.1 "}, False),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.0.0." + "0" * 5000 + "1"}, True),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.0.0." + "1" * 5000}, False),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": 10}, False),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": ["1.2.3.4", "10.9.9.9"]}, True),
    # exact IP strings match every spelling of the address (MachineTest.testIpExactMatch)
    ({"ip": ["2400:6500:FF00::36FB:1F80"]}, {"ip": "2400:6500:ff00:0:0:0:36fb:1f80"}, True),
    ({"ip": ["2400:6500:FF00::36FB:1F80"]}, {"ip": "2400:6500:FF00::36FB:1F81"}, False),
    ({"ip": ["::0"]}, {"ip": "::"}, True),
    ({"ip": ["::1"]}, {"ip": "0:0:0:0:0:0:0:1"}, True),
    ({"ip": ["10.0.0.1"]}, {"ip": "010.0.0.001"}, True),
    ({"ip": ["::FFFF:A00:1"]}, {"ip": "10.0.0.1"}, True),  # IPv4-mapped is IPv4
    ({"ip": ["::a"]}, {"ip": "::b"}, False),
    ({"ip": ["255.255.255.255"]}, {"ip": "255.255.255.255"}, True),
    ({"ip": ["255.255.255.26"]}, {"ip": "255.255.255.27"}, False),
    ({"ip": ["192.0.2.0"]}, {"ip": "192.0.2.0"}, True),  # JsonRuleCompilerTest.testVariantForms
    ({"ip": [{"exactly": "::1"}]}, {"ip": "0::1"}, False),  # exactly: no normalisation
    ({"ip": ["08:23"]}, {"ip": "08:23"}, True),  # looks like IPv6 but is not: plain text
]


@table(CIDR_CASES)
def test_cidr_and_ip_addresses(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_cidr_counts_like_acmachinetest() -> None:
    # ACMachineTest.CIDRTest: exactly 2**(32-bits) addresses around 10.0.0.0 match.
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    for bits in range(22, 32):
        pattern = compile_pattern({"a": [{"cidr": f"10.0.0.0/{bits}"}]})
        size = 1 << (32 - bits)
        hits = sum(
            pattern.matches({"a": str(ipaddress.IPv4Address(n))})
            for n in range(base - 16, base + size + 16)
        )
        assert hits == size


# ---------------------------------------------------------------------------
# Exists

EXISTS_CASES: list[Case] = [
    # RulerTest.WHEN_WeTryToMatchExistsRules_THEN_TheyWork
    ({"a": [{"exists": True}]}, {"a": 1}, True),
    ({"b": [{"exists": False}]}, {"a": 1}, True),
    ({"x": [{"exists": True}]}, {"a": 1}, False),
    ({"x": [{"exists": False}]}, {"a": 1}, True),
    ({"a": [{"exists": True}]}, {"b": 2}, False),
    ({"b": [{"exists": False}]}, {"b": 2}, False),
    ({"x": [{"exists": True}]}, {"x": "X"}, True),
    ({"x": [{"exists": False}]}, {"x": "X"}, False),
    # null is a value; objects and empty arrays hold none
    ({"a": [{"exists": True}]}, {"a": None}, True),
    ({"a": [{"exists": False}]}, {"a": None}, False),
    ({"a": [{"exists": True}]}, {"a": ""}, True),
    ({"a": [{"exists": True}]}, {"a": False}, True),
    ({"a": [{"exists": True}]}, {"a": {"b": 1}}, False),
    ({"a": [{"exists": False}]}, {"a": {"b": 1}}, True),
    ({"a": [{"exists": True}]}, {"a": {}}, False),
    ({"a": [{"exists": True}]}, {"a": []}, False),
    ({"a": [{"exists": False}]}, {"a": []}, True),
    ({"a": [{"exists": False}]}, {"a": [[]]}, True),
    ({"a": [{"exists": True}]}, {"a": [None]}, True),
    ({"a": [{"exists": True}]}, {"a": [{"b": 1}]}, False),
    ({"a": [{"exists": False}]}, {"a": [{"b": 1}]}, True),
    # GenericMachineTest.testEmptyInput
    (
        {
            "detail": {"c-count": [{"exists": False}]},
            "d-count": [{"exists": False}],
            "e-count": [{"exists": False}],
        },
        {},
        True,
    ),
    # exists: false below a missing or scalar parent
    ({"a": {"b": [{"exists": False}]}}, {}, True),
    ({"a": {"b": [{"exists": False}]}}, {"a": 5}, True),
    ({"a": {"b": [{"exists": False}]}}, {"a": {"b": 1}}, False),
    ({"a": {"b": [{"exists": False}]}}, {"a": {"c": 1}}, True),
    # ... and below an array: absent from every element
    ({"a": {"b": [{"exists": False}]}}, {"a": []}, True),
    ({"a": {"b": [{"exists": False}]}}, {"a": [{"c": 1}, {"d": 2}]}, True),
    ({"a": {"b": [{"exists": False}]}}, {"a": [{"c": 1}, {"b": 2}]}, False),
    ({"a": {"b": [{"exists": False}]}}, {"a": [[{"c": 1}], [{"b": 2}]]}, False),
    ({"a": {"b": [{"exists": False}]}}, {"a": [5, {"c": 1}]}, True),
    # an empty array holds no values, so the fields that need one cannot hold
    ({"a": {"b": [{"exists": False}], "c": [1]}}, {"a": []}, False),
    ({"a": {"b": [{"exists": False}], "c": [1]}}, {"a": [[]]}, False),
    ({"a": {"b": {"c": [{"exists": False}]}, "d": [1]}}, {"a": {"b": [], "d": 1}}, True),
    ({"a": {"b": {"c": [{"exists": False}], "e": [2]}, "d": [1]}}, {"a": {"b": [], "d": 1}}, False),
    # exists: false OR-ed with values
    ({"a": ["x", {"exists": False}]}, {}, True),
    ({"a": ["x", {"exists": False}]}, {"a": "x"}, True),
    ({"a": ["x", {"exists": False}]}, {"a": "y"}, False),
    ({"a": ["x", {"exists": False}]}, {"a": ["y", "x"]}, True),
    ({"a": [{"exists": True}, {"exists": False}]}, {}, True),
    ({"a": [{"exists": True}, {"exists": False}]}, {"a": 1}, True),
    # with other fields
    ({"a": ["x"], "b": [{"exists": False}]}, {"a": "x"}, True),
    ({"a": ["x"], "b": [{"exists": False}]}, {"a": "x", "b": None}, False),
    ({"a": ["x"], "b": [{"exists": False}]}, {"b": 1}, False),
    ({"a": {"b": [{"exists": False}], "c": [1]}}, {"a": {"c": 1}}, True),
    ({"a": {"b": [{"exists": False}], "c": [1]}}, {"a": 5}, False),
]


@table(EXISTS_CASES)
def test_exists(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


# ---------------------------------------------------------------------------
# Arrays: a sub-pattern must hold within one element of an array of objects

COMPLEX_ARRAYS_EVENT = {
    "employees": [
        [
            {"firstName": "John", "lastName": "Doe", "ids": [1234, 1000, 9999]},
            {"firstName": "Anna", "lastName": "Smith"},
        ],
        [{"firstName": "Peter", "lastName": "Jones", "ids": []}],
    ]
}

ARRAY_CASES: list[Case] = [
    # RulerTest.WHEN_JSONContainsArrays_THEN_RulerNoCompileMatchesWork
    ({"employees": {"firstName": ["Anna"]}}, COMPLEX_ARRAYS_EVENT, True),
    ({"employees": {"firstName": ["John"], "ids": [1000]}}, COMPLEX_ARRAYS_EVENT, True),
    (
        {"employees": {"firstName": ["Anna"], "ids": [{"exists": False}]}},
        COMPLEX_ARRAYS_EVENT,
        True,
    ),
    (
        {"employees": {"firstName": ["Peter"], "ids": [{"exists": False}]}},
        COMPLEX_ARRAYS_EVENT,
        True,  # Peter's ids is an empty array: no value
    ),
    ({"employees": {"firstName": ["Alice"]}}, COMPLEX_ARRAYS_EVENT, False),
    ({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, COMPLEX_ARRAYS_EVENT, False),
    ({"employees": {"firstName": ["Alice"], "lastName": ["Bob"]}}, COMPLEX_ARRAYS_EVENT, False),
    ({"a": ["b"]}, COMPLEX_ARRAYS_EVENT, False),
    ({"employees": ["b"]}, COMPLEX_ARRAYS_EVENT, False),
    ({"employees": {"firstName": ["Anna"], "ids": [1000]}}, COMPLEX_ARRAYS_EVENT, False),
    (
        {"employees": {"firstName": ["Anna"], "ids": [{"exists": True}]}},
        COMPLEX_ARRAYS_EVENT,
        False,
    ),
    (
        {"employees": {"firstName": ["John"], "ids": [{"exists": False}]}},
        COMPLEX_ARRAYS_EVENT,
        False,
    ),
    # StructuredFinderTest's correctness cases
    ({"d": {"a": [{"exists": True}], "b": [{"exists": True}]}}, {"d": [{"a": 1, "b": 2}]}, True),
    ({"d": {"a": [{"exists": True}], "b": [{"exists": True}]}}, {"d": [{"a": 1}, {"b": 2}]}, False),
    (
        {"d": {"a": [{"exists": True}], "b": [{"exists": True}]}},
        {"d": [{"a": 1}, {"b": 2}, {"a": 3, "b": 4}]},
        True,
    ),
    (
        {"d": {"a": [{"exists": True}], "b": [{"exists": True}], "c": [{"exists": True}]}},
        {"d": [{"a": 1}, {"b": 2}, {"c": 3}]},
        False,
    ),
    (
        {"d": {"name": ["alice"], "status": ["active"]}},
        {"d": [{"name": "alice"}, {"status": "active"}]},
        False,
    ),
    (
        {"d": {"name": [{"prefix": "al"}], "status": [{"exists": True}]}},
        {"d": [{"name": "alice", "status": "ok"}]},
        True,
    ),
    (
        {"d": {"tags": [{"exists": True}], "name": [{"exists": True}]}},
        {"d": {"tags": ["a", "b"], "name": "x"}},
        True,
    ),
    ({"tags": ["admin"]}, {"tags": ["user", "admin"]}, True),
    ({"tags": ["superadmin"]}, {"tags": ["user", "admin"]}, False),
    (
        {"u": {"t": {"k": ["color"], "v": ["blue"]}}},
        {"u": [{"t": [{"k": "color", "v": "blue"}]}]},
        True,
    ),
    (
        {"u": {"t": {"k": ["color"], "v": ["blue"]}}},
        {"u": [{"t": [{"k": "color"}, {"v": "blue"}]}]},
        False,
    ),
    (
        {"d": {"name": [{"exists": True}], "info": {"x": ["1"]}}},
        {"d": [{"name": "alice"}, {"info": {"x": "1"}}]},
        False,
    ),
    (
        {"d": {"name": [{"exists": True}], "info": {"x": ["1"]}}},
        {"d": [{"name": "alice", "info": {"x": "1"}}]},
        True,
    ),
    (
        {"a": {"b": {"x": [{"exists": True}], "y": [{"exists": True}]}}},
        {"a": [{"b": [{"x": 1}, {"y": 2}]}]},
        False,
    ),
    (
        {"users": {"name": [{"exists": True}]}, "version": ["1"]},
        {"users": [{"name": "alice"}], "version": "1"},
        True,
    ),
    (
        {"users": {"name": [{"exists": True}]}, "version": ["2"]},
        {"users": [{"name": "alice"}], "version": "1"},
        False,
    ),
    ({"d": {"a": [{"exists": True}], "b": [{"exists": False}]}}, {"d": [{"a": 1}]}, True),
    ({"d": {"a": [{"exists": True}], "b": [{"exists": False}]}}, {"d": [{"a": 1, "b": 2}]}, False),
    (
        {"d": {"a": [{"exists": True}], "b": [{"exists": False}]}},
        {"d": [{"a": 1, "b": 2}, {"a": 3}]},
        True,
    ),
    ({"d": {"a": [{"exists": True}]}}, {}, False),
    ({"d": {"a": [{"exists": True}]}}, {"d": []}, False),
    (
        {"d": {"a": ["target"], "b": ["found"]}},
        {"d": [{"a": "x"}, {"a": "y"}, {"a": "target", "b": "found"}, {"a": "z"}]},
        True,
    ),
    (
        {"i": {"p": [{"numeric": [">", 0, "<", 100]}], "n": ["g"]}},
        {"i": [{"n": "w", "p": 50}, {"n": "g", "p": 200}]},
        False,
    ),
    (
        {"u": {"s": [{"anything-but": "banned"}], "n": ["alice"]}},
        {"u": [{"n": "alice", "s": "banned"}, {"n": "bob", "s": "active"}]},
        False,
    ),
    (
        {"u": {"s": [{"anything-but": "banned"}], "n": ["bob"]}},
        {"u": [{"n": "alice", "s": "banned"}, {"n": "bob", "s": "active"}]},
        True,
    ),
    (
        {"d": {"vals": [{"numeric": [">", 0, "<", 10]}], "type": [{"exists": True}]}},
        {"d": {"vals": [100, 5, 200], "type": "ok"}},
        True,
    ),
    (
        {"d": {"name": [{"exists": True}], "type": [{"exists": True}]}},
        {"d": {"name": [], "type": "x"}},
        False,
    ),
    (
        {"users": {"name": [{"exists": True}], "email": [{"exists": True}]}, "tags": ["admin"]},
        {"users": [{"name": "alice"}, {"email": "b@x"}], "tags": ["admin"]},
        False,
    ),
    (
        {"detail": {"email": [{"exists": True}], "name": [{"exists": True}]}},
        {"detail": [{"email": "a@x"}, {"email": "b@x"}, {"email": "e@x", "name": "eve"}]},
        True,
    ),
    # scalars and objects mixed in one array
    ({"a": {"b": [1]}}, {"a": [1, {"b": 1}]}, True),
    ({"a": {"b": [1]}}, {"a": [1, {"b": 2}]}, False),
    ({"a": [1]}, {"a": [{"b": 2}, 1]}, True),
]


@table(ARRAY_CASES)
def test_arrays(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


ALARM_RULE_1 = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {
        "state": {"value": ["ALARM"]},
        "configuration": {"metrics": {"metricStat": {"metric": {"namespace": ["AWS/EC2"]}}}},
    },
}
ALARM_RULE_2 = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {
        "state": {"value": ["ALARM"]},
        "configuration": {
            "metrics": {"metricStat": {"metric": {"metricName": ["CPUUtilization"]}}}
        },
    },
}
METRICS_RULE_3 = {"metrics": {"metricName": ["CPUUtilization"], "namespace": ["AWS/ES"]}}
METRICS_RULE_4 = {
    "metrics": {"metricName": ["CPUUtilization", "ReadLatency"], "namespace": ["AWS/EC2", "AWS/ES"]}
}


def alarm_event(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {
            "alarmName": "Alarm",
            "state": {"value": "ALARM"},
            "previousState": {"value": "OK"},
            "configuration": {"evaluationPeriods": 3, "metrics": metrics, "threshold": 90},
        },
    }


def metric(name: str, namespace: str) -> dict[str, Any]:
    return {
        "id": "M1",
        "metricStat": {"metric": {"metricName": name, "namespace": namespace}, "unit": None},
    }


def test_nested_arrays_of_genericmachinetest() -> None:
    event1 = alarm_event([metric("CPUUtilization", "AWS/EC2")])
    event2 = alarm_event(
        [
            metric("ConsumedReadCapacityUnits", "AWS/DynamoDB"),
            metric("ProvisionedReadCapacityUnits", "AWS/DynamoDB"),
            {"id": "E1", "expression": "(M1 / M2) * 100"},
        ]
    )
    event3 = {
        "metrics": [
            {"metricName": "CPUUtilization", "namespace": "AWS/EC2"},
            {"metricName": "RequestCount", "namespace": "AWS/ES"},
        ]
    }
    event4 = {"metrics": [{"metricName": "CPUUtilization", "namespace": "AWS/ES"}]}
    rules = [ALARM_RULE_1, ALARM_RULE_2, METRICS_RULE_3]
    assert [matches(r, event1) for r in rules] == [True, True, False]
    assert [matches(r, event2) for r in rules] == [False, False, False]
    assert [matches(r, event3) for r in rules] == [False, False, False]  # split across elements
    assert [matches(r, event4) for r in rules] == [False, False, True]
    assert matches(METRICS_RULE_4, event3)


def test_exists_false_in_arrays_of_acmachinetest() -> None:
    def task(state: str, provider: str, interface: str | None) -> dict[str, Any]:
        resource: dict[str, Any] = {"legacyFocusCategory": "Focus", "endpointIdentifier": {}}
        if interface is not None:
            resource["additionalContext"] = {"capabilityInterfaces": [{"interfaceName": interface}]}
        return {
            "taskInstanceId": "id1",
            "taskInstanceState": state,
            "provider": {"id": provider, "type": "T"},
            "resources": [resource],
        }

    def rule(leaf: str) -> dict[str, Any]:
        return {
            "requestContext": {
                "taskInstances": {
                    "taskInstanceState": ["ACTIVE"],
                    "provider": {"id": ["XXXXXXXXXXXX"]},
                    "resources": {
                        "additionalContext": {"capabilityInterfaces": {leaf: [{"exists": False}]}}
                    },
                }
            }
        }

    event1 = {
        "requestContext": {
            "taskInstances": [
                task("ACTIVE", "XXXXXXXXXXXX", None),
                task("InACTIVE", "SomeRandom", "Dummy.DummyDumDum"),
            ]
        }
    }
    event2 = {
        "requestContext": {
            "taskInstances": [
                task("ACTIVE", "XXXXXXXXXXXX", "XXXX.XXXX"),
                task("InACTIVE", "SomeRandom", "XXXX.XXXX"),
            ]
        }
    }
    assert matches(rule("interfaceName"), event1)
    assert matches(rule("abc"), event1)
    assert not matches(rule("interfaceName"), event2)
    assert matches(rule("abc"), event2)


def test_exists_false_does_not_depend_on_field_order() -> None:
    # event-ruler checks an absence only against the array elements chosen by
    # fields whose names sort before it; logway always checks it against the
    # element the rest of the sub-pattern matched.
    event = {"a": [{"b": 1}, {"c": 2}]}
    assert matches({"a": {"b": [{"exists": False}], "c": [2]}}, event)
    assert matches({"a": {"z": [{"exists": False}], "c": [2]}}, {"a": [{"z": 1}, {"c": 2}]})
    assert not matches({"a": {"b": [{"exists": False}], "c": [2]}}, {"a": [{"b": 1, "c": 2}]})


# ---------------------------------------------------------------------------
# $or

OR_CASES: list[Case] = [
    # README: "source" && ("metricName" || "namespace")
    (
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
        },
        {"source": "aws.cloudwatch", "namespace": "AWS/ES"},
        True,
    ),
    (
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
        },
        {"source": "aws.cloudwatch", "namespace": "AWS/S3", "metricName": "Other"},
        False,
    ),
    (
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
        },
        {"source": "aws.ec2", "metricName": "ReadLatency"},
        False,
    ),
    # README: parallel $or, one of them nested
    (
        {
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
            "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["Alarm"]}]},
        },
        {"namespace": "AWS/EC2", "detail": {"detail-type": "Alarm"}},
        True,
    ),
    (
        {
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
            "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["Alarm"]}]},
        },
        {"namespace": "AWS/EC2", "detail": {"detail-type": "Other"}},
        False,
    ),
    # README: $or with an AND inside, and nested $or
    (
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {
                    "metricType": ["MetricType"],
                    "namespace": ["AWS/EC2", "AWS/ES"],
                    "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
                },
                {"scope": ["Service"]},
            ],
        },
        {
            "source": "aws.cloudwatch",
            "metricType": "MetricType",
            "namespace": "AWS/ES",
            "spaceId": 1000,
        },
        True,
    ),
    (
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {
                    "metricType": ["MetricType"],
                    "namespace": ["AWS/EC2", "AWS/ES"],
                    "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
                },
                {"scope": ["Service"]},
            ],
        },
        {
            "source": "aws.cloudwatch",
            "metricType": "MetricType",
            "namespace": "AWS/ES",
            "spaceId": 1,
        },
        False,
    ),
    (
        {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"]},
                {"scope": ["Service"]},
            ],
        },
        {"source": "aws.cloudwatch", "metricType": "MetricType", "scope": "Other"},
        False,
    ),
    # the same field may appear in several $or branches
    ({"$or": [{"a": [1]}, {"a": [2]}]}, {"a": 2}, True),
    ({"$or": [{"a": [1]}, {"a": [2]}]}, {"a": 3}, False),
    ({"$or": [{"a": [{"exists": False}]}, {"a": [1]}]}, {}, True),
    ({"$or": [{"a": [{"exists": False}]}, {"a": [1]}]}, {"a": 2}, False),
    # a $or branch keeps array consistency with the fields around it
    (
        {"$or": [{"a": {"b": [1]}}, {"a": {"c": [2]}}], "a": {"x": [0]}},
        {"a": [{"b": 1}, {"x": 0}]},
        False,
    ),
    (
        {"$or": [{"a": {"b": [1]}}, {"a": {"c": [2]}}], "a": {"x": [0]}},
        {"a": [{"b": 9, "x": 0}, {"c": 2, "x": 0}]},
        True,
    ),
    # a field both as a value and as an object (only one can hold, barring absence)
    ({"a": [{"exists": False}], "$or": [{"a": {"b": [{"exists": False}]}}, {"c": [1]}]}, {}, True),
    ({"a": ["x"], "$or": [{"a": {"b": [1]}}, {"c": [1]}]}, {"a": "x", "c": 1}, True),
    ({"a": ["x"], "$or": [{"a": {"b": [1]}}, {"c": [1]}]}, {"a": "x"}, False),
]


@table(OR_CASES)
def test_or(pattern: Any, event: Any, expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_or_relationship_of_jsonrulecompilertest() -> None:
    event = {
        "detail": {
            "detail-type": "EC2 Instance State-change Notification",
            "resources": "arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000",
            "info": {"state-status": "running", "state-count": {"count": 100}},
            "c-count": 1,
            "d-count": 8,
        },
        "news": {"newsProviders": "p1", "newCondition1": "news111", "newCondition2": "news222"},
    }
    counts = [
        {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
        {"d-count": [{"numeric": ["<", 10]}]},
        {"x-limit": [{"numeric": ["=", 3.018e2]}]},
    ]
    rule1 = {"detail": {"$or": counts}}
    rule2 = {
        "detail": {
            "detail-type": ["EC2 Instance State-change Notification"],
            "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
            "info": {"state-status": ["initializing", "running"], "state-count": {"count": [100]}},
            "$or": counts,
        },
        "news": {
            "newsProviders": ["p1", "p2"],
            "$or": [{"newCondition1": ["news111"]}, {"newCondition2": ["news222"]}],
        },
    }
    assert matches(rule1, event)
    assert matches(rule2, event)
    assert not matches(rule1, {"detail": {"c-count": 9, "d-count": 10, "x-limit": 301.7}})
    assert matches(rule1, {"detail": {"c-count": 9, "d-count": 10, "x-limit": 301.8}})


# ---------------------------------------------------------------------------
# Filters, API and JSON text


def test_filter_is_an_or_of_patterns() -> None:
    flt = compile_filters([{"a": [1]}, '{"b": [{"prefix": "x"}]}'])
    assert isinstance(flt, Filter)
    assert all(isinstance(p, Pattern) for p in flt.patterns)
    assert flt.matches({"a": 1})
    assert flt.matches({"b": "xy"})
    assert flt.matches({"a": 2, "b": "xz"})
    assert not flt.matches({"a": 2, "b": "y"})
    assert not flt.matches({})


def test_empty_filter_matches_everything() -> None:
    flt = compile_filters([])
    assert flt.matches({})
    assert flt.matches({"a": 1})


def test_pattern_from_json_text_and_bytes() -> None:
    text = '{"detail": {"price": [{"numeric": [">", 0, "<=", 5]}]}}'
    assert compile_pattern(text).matches({"detail": {"price": 5}})
    assert compile_pattern(text.encode()).matches({"detail": {"price": 1}})  # type: ignore[arg-type]
    assert not compile_pattern(text).matches({"detail": {"price": 0}})
    assert compile_pattern(text).source == json.loads(text)
    assert "numeric" in repr(compile_pattern(text))


def test_events_that_are_not_plain_dicts() -> None:
    from collections import OrderedDict
    from types import MappingProxyType

    pattern = compile_pattern({"a": {"b": [{"prefix": "x"}]}, "c": [{"exists": False}]})
    assert pattern.matches(MappingProxyType({"a": OrderedDict(b="xy")}))
    assert pattern.matches({"a": ({"b": "q"}, {"b": ("z", "xy")})})  # tuples as arrays
    assert not pattern.matches([])  # not an object: nothing to match
    assert not pattern.matches("text")


def test_subclasses_of_json_types_are_their_json_type() -> None:
    from collections import OrderedDict

    class Name(str):
        pass

    class Count(int):
        pass

    pattern = compile_pattern({"n": ["bob", {"numeric": [">", 3]}], "f": [False]})
    assert pattern.matches({"n": Name("bob"), "f": False})
    assert pattern.matches({"n": Count(4), "f": False})
    assert not pattern.matches({"n": Count(3), "f": False})
    assert not pattern.matches({"n": object(), "f": False})
    exists = compile_pattern({"n": [{"exists": True}]})
    assert exists.matches({"n": object()})  # not JSON, but a value
    assert not exists.matches({"n": [OrderedDict(a=1), ((),)]})  # containers are not


def test_compiled_pattern_is_reusable_and_stateless() -> None:
    pattern = compile_pattern({"a": [{"anything-but": "x"}], "b": {"c": [{"exists": False}]}})
    events = [{"a": "y"}, {"a": "x"}, {"a": "y", "b": [{"c": 1}]}, {"a": "y", "b": [{"d": 1}]}]
    first = [pattern.matches(e) for e in events]
    assert first == [True, False, False, True]
    assert [pattern.matches(e) for e in reversed(events)] == first[::-1]


# ---------------------------------------------------------------------------
# Malformed patterns

BAD_PATTERNS: list[tuple[Any, str, list[str]]] = [
    # (pattern, path, fragments the message must contain)
    ([1, 2, 3], "", ["must be a JSON object", "an array"]),
    ("[1, 2, 3]", "", ["must be a JSON object"]),
    ('{"a": [1,}', "", ["not valid JSON", "line 1"]),
    ('{"a": [NaN]}', "", ["NaN is not a JSON value"]),
    ('{"a": [1], "a": [2]}', "", ["'a' appears twice"]),
    ('{"a": [{"numeric": ["=", 1E309]}]}', "", ["1E309", "outside the range"]),
    ('{"a": [{"numeric": ["=", 1E-325]}]}', "", ["1E-325", "outside the range"]),
    ({}, "", ["empty objects are not allowed"]),
    ({"foo": {}}, "foo", ["empty objects are not allowed"]),
    ({"foo": []}, "foo", ["empty arrays are not allowed"]),
    ({"a": 1}, "a", ["object or an array", "write [1]"]),
    ({"a": "x"}, "a", ["not a string", 'write ["x"]']),
    ({"a": None}, "a", ["not null"]),
    ({1: ["x"]}, "", ["field names must be strings"]),
    ({"a": [["x"]]}, "a", ["cannot be nested"]),
    ({"a": [object()]}, "a", ["is not a JSON value"]),
    ({"a": [{}]}, "a", ["empty object is not a match expression"]),
    ({"a": [{"x": 2}]}, "a", ["unknown operator 'x'", "prefix"]),
    ({"a": [{"Prefix": "x"}]}, "a", ["unknown operator 'Prefix'"]),
    ({"a": [{"prefix": "child", "foo": []}]}, "a", ["exactly one operator", "'foo'", "'prefix'"]),
    ({"a": [{"exactly": 33}]}, "a", ["exactly takes a string", "not a number"]),
    ({"a": [{"prefix": 3}]}, "a", ["prefix takes a string", "equals-ignore-case"]),
    ({"a": [{"prefix": [1, 2]}]}, "a", ["prefix takes a string", "not an array"]),
    ({"a": [{"suffix": 3}]}, "a", ["suffix takes a string"]),
    ({"a": [{"suffix": "child", "foo": []}]}, "a", ["exactly one operator"]),
    ({"a": [{"prefix": {"invalid-expression": ["abc"]}}]}, "a", ['{"equals-ignore-case": "..."}']),
    (
        {"a": [{"prefix": {"equals-ignore-case": 5}}]},
        "a",
        ["prefix equals-ignore-case takes a string"],
    ),
    ({"a": [{"prefix": {"equals-ignore-case": ["abc"]}}]}, "a", ["takes a string"]),
    (
        {"a": [{"prefix": {"equals-ignore-case": "abc", "test": "def"}}]},
        "a",
        ["equals-ignore-case"],
    ),
    ({"a": [{"suffix": {"invalid-expression": ["abc"]}}]}, "a", ["suffix takes a string or"]),
    (
        {"a": [{"suffix": {"equals-ignore-case": 5}}]},
        "a",
        ["suffix equals-ignore-case takes a string"],
    ),
    ({"a": [{"equals-ignore-case": 5}]}, "a", ["equals-ignore-case takes a string"]),
    ({"a": [{"equals-ignore-case": ["abc"]}]}, "a", ["equals-ignore-case takes a string"]),
    ({"a": [{"wildcard": 5}]}, "a", ["wildcard takes a string"]),
    ({"a": [{"wildcard": ["abc"]}]}, "a", ["wildcard takes a string"]),
    ({"a": [{"wildcard": "foo**bar"}]}, "a", ["consecutive '*' at position 3"]),
    ({"a": [{"wildcard": "a\\b"}]}, "a", ["backslash at position 1"]),
    ({"a": [{"wildcard": "ab\\"}]}, "a", ["backslash at position 2"]),
    ({"a": [{"cidr": "foo"}]}, "a", ["exactly one '/'"]),
    ({"a": [{"cidr": "foo/bar/baz"}]}, "a", ["exactly one '/'"]),
    ({"a": [{"cidr": 10}]}, "a", ["cidr takes a string"]),
    ({"a": [{"cidr": "192.168.0.1/33"}]}, "a", ["less than 32"]),
    ({"a": [{"cidr": "10.0.0.1/32"}]}, "a", ["less than 32", "['10.0.0.1']"]),
    ({"a": [{"cidr": "::1/128"}]}, "a", ["less than 128"]),
    ({"a": [{"cidr": "2400:6500:FF00::36FB:1F80/222"}]}, "a", ["less than 128"]),
    ({"a": [{"cidr": "192.168.0.1/foo"}]}, "a", ["non-negative integer"]),
    ({"a": [{"cidr": "192.168.0.1/" + "9" * 5000}]}, "a", ["less than 32"]),
    ({"a": [{"cidr": "192.168.0.1/-3424"}]}, "a", ["non-negative integer"]),
    ({"a": [{"cidr": "snorkle/3"}]}, "a", ["'snorkle' is not an IPv4 or IPv6 address"]),
    ({"a": [{"cidr": "10.10.10.10.10/3"}]}, "a", ["not an IPv4 or IPv6 address"]),
    ({"a": [{"cidr": "2.1.0.-1/3"}]}, "a", ["not an IPv4 or IPv6 address"]),
    ({"a": [{"cidr": "700.168.0.1/8"}]}, "a", ["not an IPv4 or IPv6 address"]),
    (
        {"a": [{"cidr": "2400:6500:3:3:3:3:3:3:3:3FF00::36FB:1F80/122"}]},
        "a",
        ["not an IPv4 or IPv6"],
    ),
    ({"a": [{"cidr": "2400:6500:3:3:-5:3:3:3:3:3FF00::36FB:1F80/122"}]}, "a", ["not an IPv4"]),
    (
        {"a": [{"anything-but": ["child0", 111, "child2"]}]},
        "a",
        ["only strings or of only numbers"],
    ),
    ({"a": [{"anything-but": []}]}, "a", ["at least one value"]),
    ({"a": [{"anything-but": None}]}, "a", ["anything-but takes a string"]),
    ({"a": [{"anything-but": True}]}, "a", ["anything-but takes a string"]),
    ({"a": [{"anything-but": [True]}]}, "a", ["anything-but takes a string"]),
    ({"a": [{"anything-but": [["x"]]}]}, "a", ["anything-but takes a string"]),
    ({"a": [{"anything-but": "child", "foo": []}]}, "a", ["exactly one operator"]),
    ({"a": [{"anything-but": {"foo": 3}}]}, "a", ["anything-but takes one of", '{"prefix": ...}']),
    ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "a", ["anything-but takes one of"]),
    ({"a": [{"anything-but": {"prefix": 27}}]}, "a", ["anything-but prefix takes a string"]),
    ({"a": [{"anything-but": {"prefix": ""}}]}, "a", ["cannot be the empty string"]),
    ({"a": [{"anything-but": {"prefix": ["1", ""]}}]}, "a", ["cannot be the empty string"]),
    ({"a": [{"anything-but": {"prefix": [1, 2, 3]}}]}, "a", ["non-empty array of strings"]),
    ({"a": [{"anything-but": {"prefix": []}}]}, "a", ["non-empty array of strings"]),
    ({"a": [{"anything-but": {"prefix": "foo", "a": 1}}]}, "a", ["anything-but takes one of"]),
    ({"a": [{"anything-but": {"suffix": 27}}]}, "a", ["anything-but suffix takes a string"]),
    ({"a": [{"anything-but": {"suffix": ""}}]}, "a", ["cannot be the empty string"]),
    ({"a": [{"anything-but": {"equals-ignore-case": [1, 2, 3]}}]}, "a", ["array of strings"]),
    ({"a": [{"anything-but": {"wildcard": 27}}]}, "a", ["anything-but wildcard takes a string"]),
    ({"a": [{"anything-but": {"wildcard": "foo**bar"}}]}, "a", ["consecutive '*'"]),
    ({"a": [{"anything-but": {"wildcard": ["1", "foo*bar\\"]}}]}, "a", ["backslash at position 7"]),
    ({"a": [{"anything-but": 2**53 + 1}]}, "a", ["9007199254740993 cannot be compared"]),
    ({"a": [{"anything-but": [1, 2**60]}]}, "a", ["1152921504606846976 cannot be compared"]),
    ('{"a": [{"anything-but": 0.30000000000000001}]}', "a", ["0.30000000000000001 cannot be"]),
    ('{"a": [{"numeric": ["<", 1.00000000000000001]}]}', "a", ["more digits than the shortest"]),
    ({"a": [{"anything-but": math.inf}]}, "a", ["must be a finite number"]),
    ({"x": [{"numeric": ["=", True]}]}, "x", ["operand of '=' must be a number", "a boolean"]),
    ({"x": [{"numeric": ["=", "-4e-6"]}]}, "x", ["operand of '=' must be a number", "a string"]),
    ({"x": [{"numeric": ["="]}]}, "x", ["got 1 element(s)"]),
    ({"x": [{"numeric": []}]}, "x", ["got 0 element(s)"]),
    ({"x": [{"numeric": ["<", 1, ">"]}]}, "x", ["got 3 element(s)"]),
    ({"x": [{"numeric": [">", 1, "<", 30, False]}]}, "x", ["got 5 element(s)"]),
    ({"x": [{"numeric": 5}]}, "x", ["numeric takes an array", "not a number"]),
    ({"x": [{"numeric": ["<>", 1]}]}, "x", ['unknown numeric operator "<>"']),
    ({"x": [{"numeric": ["==", 1, ">", 0]}]}, "x", ['unknown numeric operator "=="']),
    ({"x": [{"numeric": [1, "<"]}]}, "x", ["unknown numeric operator 1"]),
    ({"x": [{"numeric": ["<", 1, ">", 0]}]}, "x", ["lower bound", "followed by an upper bound"]),
    ({"x": [{"numeric": ["=", 1, "<", 3]}]}, "x", ["lower bound", "followed by an upper bound"]),
    ({"x": [{"numeric": [">", 1, "<", 1]}]}, "x", ["must be less than its upper bound"]),
    ({"x": [{"numeric": [">=", 1, "<=", 1]}]}, "x", ["must be less than its upper bound"]),
    ({"x": [{"numeric": [">", 30, "<", 1]}]}, "x", ["must be less than its upper bound"]),
    ({"x": [{"numeric": ["<", math.inf]}]}, "x", ["must be a finite number"]),
    ({"x": [{"numeric": [">=", 1.7976931348623157e308]}]}, "x", ['write ["=", 1.797']),
    ({"x": [{"numeric": ["<", -1.7976931348623157e308]}]}, "x", ["empty or one-value range"]),
    ({"x": [{"numeric": ["<", math.nan]}]}, "x", ["must be a finite number"]),
    ({"x": [{"numeric": [">", 2**53 + 1]}]}, "x", ["9007199254740993 cannot be compared"]),
    ({"x": [{"numeric": ["<", 2**60]}]}, "x", ["cannot be compared as a number"]),
    ({"x": [{"numeric": [">", 10**400]}]}, "x", ["cannot be compared as a number"]),
    ({"x": [{"numeric": [">", 10**5000]}]}, "x", ["an int too long to show cannot be compared"]),
    ({"x": [math.nan]}, "x", ["must be a finite number"]),
    ({"x": [{"exists": "badString"}]}, "x", ["exists takes true or false", '"badString"']),
    ({"x": [{"exists": 1}]}, "x", ["exists takes true or false"]),
    ({"x": [{"exists": None}]}, "x", ["exists takes true or false"]),
    ({"x": [{"exists": True, "extraKey": "extraValue"}]}, "x", ["exactly one operator"]),
    ({"$or": [{"metricName": ["CPUUtilization"]}]}, "$or", ["at least two objects, got 1"]),
    ({"$or": []}, "$or", ["at least two objects, got 0"]),
    ({"$or": {"a": [1], "b": [2]}}, "$or", ["must be an array", "not an object"]),
    ({"$or": [{"a": [1]}, "b"]}, "$or[1]", ["every element of $or must be an object"]),
    (
        {"detail": {"$or": [{"source": ["x"]}, {"detail-type": ["y"]}, [{"foo": ["wrong"]}]]}},
        "detail.$or[2]",
        ["every element of $or must be an object"],
    ),
    ({"$or": [{"numeric": 123}, {"prefix": "abc"}]}, "$or[0].numeric", ["operator name"]),
    (
        {"$or": [{"a": {"cidr": ["x"]}}, {"b": [1]}]},
        "$or[0].a.cidr",
        ["operator name", "inside $or"],
    ),
    ({"$or": [{"a": [1]}, {">=": [1]}]}, "$or[1].>=", ["operator name"]),
    ({"$or": [{"a": [1]}, {}]}, "$or[1]", ["empty objects"]),
    (
        {"detail": {"price": [{"numeric": [">", 0, "<=", "5"]}]}},
        "detail.price",
        ["operand of '<=' must be a number"],
    ),
    (
        {"detail": {"$or": [{"a": [1]}, {"price": [{"numeric": [">", 0, "<", 0]}]}]}},
        "detail.$or[1].price",
        ["must be less than its upper bound"],
    ),
    (
        # JsonRuleCompilerTest: the same path inside and outside $or
        {"name": ["a", "b"], "$or": [{"name": [{"anything-but": "a"}]}, {"condition1": ["x"]}]},
        "$or",
        ["`name` is given twice", "override"],
    ),
    (
        {"a": {"b": [1], "$or": [{"c": [1]}, {"b": [2]}]}},
        "a.$or",
        ["`a.b` is given twice"],
    ),
    ({"$or": [{"c": [1]}, {"b": [2]}], "b": [1]}, "", ["`b` is given twice"]),
    (
        {"$or": [{"x": {"c": [1]}}, {"y": [2]}], "x": {"c": [{"prefix": "z"}]}},
        "x",
        ["`x.c` is given twice"],
    ),
    (b'{"a": ["\xff"]}', "", ["not valid JSON"]),
    ('{"a": [' + "9" * 5000 + "]}", "", ["not valid JSON"]),
    ("[" * 100_000 + "]" * 100_000, "", ["not valid JSON"]),
]


@pytest.mark.parametrize(
    ("pattern", "path", "fragments"), BAD_PATTERNS, ids=[str(i) for i in range(len(BAD_PATTERNS))]
)
def test_malformed_patterns_are_refused_with_a_helpful_message(
    pattern: Any, path: str, fragments: list[str]
) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    error = caught.value
    assert error.path == path
    message = str(error)
    if path:
        assert f"`{path}`" in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_pattern_error_is_an_invalid_argument_and_a_value_error() -> None:
    with pytest.raises(InvalidArgumentError):
        compile_pattern({"a": []})
    with pytest.raises(ValueError, match="empty arrays"):
        compile_pattern({"a": []})


def test_deeply_nested_patterns_are_refused() -> None:
    pattern: dict[str, Any] = {"a": [1]}
    for _ in range(100_000):
        pattern = {"a": pattern}
    with pytest.raises(PatternError, match="nested too deeply"):
        compile_pattern(pattern)


def test_too_many_or_combinations_are_refused() -> None:
    pattern: dict[str, Any] = {
        f"f{i}": {"$or": [{"x": [1]}, {"y": [2]}, {"z": [3]}]} for i in range(7)
    }
    with pytest.raises(PatternError, match="more than 1024 combinations"):
        compile_pattern(pattern)
    del pattern["f6"]  # 3**6 = 729 combinations is fine
    assert compile_pattern(pattern).matches({f"f{i}": {"z": 3} for i in range(6)})


def test_compile_filters_says_which_pattern_is_bad() -> None:
    with pytest.raises(PatternError) as caught:
        compile_filters([{"a": [1]}, {"b": {"c": [{"numeric": ["<"]}]}}])
    assert caught.value.index == 1
    assert caught.value.path == "b.c"
    assert str(caught.value).startswith("event pattern #1 at `b.c`: ")
    with pytest.raises(PatternError, match="a list of patterns"):
        compile_filters('{"a": [1]}')
    with pytest.raises(PatternError, match="a list of patterns"):
        compile_filters({"a": [1]})  # type: ignore[arg-type]


VALID_ODDITIES = [
    # accepted by event-ruler's JsonRuleCompilerTest (testCompile, testNumericExpressions)
    {"a": [{"anything-but": {"equals-ignore-case": ""}}]},
    {"a": [{"anything-but": {"equals-ignore-case": ["abc", ""]}}]},
    {"a": [{"anything-but": {"wildcard": ""}}]},
    {"a": [{"anything-but": {"wildcard": ["foo*bar", ""]}}]},
    {"a": [{"exactly": "child"}]},
    {"x": [{"numeric": ["=", 1e-320]}]},
    {"x": [{"numeric": ["<", -4e-6]}]},
    {"x": [{"numeric": [">=", 0, "<=", 1]}]},
    {"prefix": ["x"]},  # operator names are fine as field names outside $or
    {"a": [{"prefix": ""}]},
    {"a": [1, "1", True, None, {"exists": False}]},
    {"a": [10**400]},  # exact values need not be doubles
    {"x": [{"numeric": ["<", 10**20]}]},
    {"x": [{"numeric": [">", 9007199254740994]}]},
]


def test_long_decimals_in_json_text() -> None:
    # As an exact value, a number with more digits than its double still
    # matches by value; as a numeric operand it is refused (as event-ruler does).
    pattern = compile_pattern('{"a": [0.30000000000000001]}')
    assert pattern.matches({"a": 0.3})
    assert compile_pattern('{"a": [{"numeric": ["=", 0.3000]}]}').matches({"a": 0.3})


@pytest.mark.parametrize("pattern", VALID_ODDITIES)
def test_unusual_but_valid_patterns_compile(pattern: Any) -> None:
    compile_pattern(pattern)
    compile_pattern(json.dumps(pattern))


# ---------------------------------------------------------------------------
# Properties

keys = st.text(alphabet="abcxyz-_.$ ", min_size=1, max_size=4).filter(lambda k: k != "$or")
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)


def json_values(names: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """JSON values nested at most two arrays or objects deep.

    Built level by level rather than with st.recursive, whose size limit is
    met by drawing again: this never redraws, so examples stay cheap to make.
    """
    values: st.SearchStrategy[Any] = scalars
    for _ in range(2):
        values = scalars | st.lists(values, max_size=3) | st.dictionaries(names, values, max_size=3)
    return values


events = st.dictionaries(keys, json_values(keys), max_size=4)


def exact_pattern(value: Any) -> Any:
    """A pattern of exact values that ``value`` must match, or None if there is none."""
    if isinstance(value, dict):
        fields = {k: p for k, v in value.items() if (p := exact_pattern(v)) is not None}
        return fields or None
    if isinstance(value, list):
        leaves = [v for v in _flatten(value) if not isinstance(v, dict)]
        if leaves:
            return leaves
        objects = [v for v in _flatten(value) if isinstance(v, dict)]
        for obj in objects:
            pattern = exact_pattern(obj)
            if pattern is not None:
                return pattern
        return None
    return [value]


def _flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


# Without dots: "a.b" and {"a": {"b": ...}} in one event would give a pattern that
# names one field twice (dotted keys have their own tests, test_pattern_dotted_keys.py).
undotted_keys = st.text(alphabet="abcxyz-_$ ", min_size=1, max_size=4).filter(lambda k: k != "$or")
undotted_events = st.dictionaries(undotted_keys, json_values(undotted_keys), max_size=4)


@given(undotted_events)
def test_an_event_matches_the_exact_pattern_built_from_it(event: dict[str, Any]) -> None:
    pattern = exact_pattern(event)
    assume(pattern is not None)
    assert matches(pattern, event)
    assert matches(json.dumps(pattern), json.loads(json.dumps(event)))


ZOO_SOURCES: list[dict[str, Any]] = [
    *README_RULES_THAT_MATCH,
    {"a": [{"exists": False}], "b": {"c": [{"exists": False}], "d": ["x", 1, None, True]}},
    {"a": {"b": {"c": [{"anything-but": {"wildcard": "*x*"}}]}}, "x": [{"cidr": "::/1"}]},
    {
        "$or": [{"a": [{"numeric": [">", 0]}]}, {"a": {"a": [{"suffix": "z"}]}}],
        "b": [{"exists": True}],
    },
    {
        "a": [{"equals-ignore-case": "ÀB"}, {"prefix": {"equals-ignore-case": "c"}}],
        "b.c": ["1.2.3.4"],
    },
]
PATTERN_ZOO = [compile_pattern(p) for p in ZOO_SOURCES]


@given(events)
def test_matching_never_fails_on_arbitrary_json(event: dict[str, Any]) -> None:
    for pattern in PATTERN_ZOO:
        assert pattern.matches(event) in (True, False)


# anything-but accepts strings and numbers; leave out ':' so that no string is an
# IPv6 literal (exact matching normalises IP addresses, anything-but does not)
refusable = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters=":"), max_size=6),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(refusable, scalars)
def test_anything_but_is_the_negation_of_exact_match_for_scalars(refused: Any, value: Any) -> None:
    event = {"f": value}
    assert matches({"f": [{"anything-but": refused}]}, event) is not matches(
        {"f": [refused]}, event
    )


small_patterns = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.lists(
        st.one_of(
            st.integers(0, 3),
            st.sampled_from(["x", "y"]),
            st.builds(lambda n: {"numeric": [">", n]}, st.integers(0, 3)),
            st.builds(lambda s: {"prefix": s}, st.sampled_from(["x", "y", ""])),
            st.builds(lambda b: {"exists": b}, st.booleans()),
            st.builds(lambda s: {"anything-but": s}, st.sampled_from(["x", 1])),
        ),
        min_size=1,
        max_size=3,
    ),
    min_size=1,
    max_size=3,
)
small_events = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(
        st.integers(0, 3),
        st.sampled_from(["x", "xy", "y", ""]),
        st.none(),
        st.lists(st.one_of(st.integers(0, 3), st.sampled_from(["x", "y"])), max_size=3),
    ),
    max_size=3,
)


@given(st.lists(small_patterns, min_size=2, max_size=4), small_events)
def test_or_is_the_or_of_its_branches(
    branches: list[dict[str, Any]], event: dict[str, Any]
) -> None:
    expected = any(matches(branch, event) for branch in branches)
    assert matches({"$or": branches}, event) is expected
    assert compile_filters(branches).matches(event) is expected
    # nested under a field, with an unrelated field AND-ed
    wrapped = {"d": {"$or": branches}, "e": [1]}
    assert matches(wrapped, {"d": event, "e": 1}) is expected
    assert not matches(wrapped, {"d": event, "e": 2})


@given(small_patterns, small_patterns, small_events)
def test_fields_of_a_pattern_are_anded(
    p1: dict[str, Any], p2: dict[str, Any], e: dict[str, Any]
) -> None:
    combined = {"one": p1, "two": p2}
    assert matches(combined, {"one": e, "two": e}) is (matches(p1, e) and matches(p2, e))


numbers = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
)
OPS = {
    "<": lambda x, b: x < b,
    "<=": lambda x, b: x <= b,
    "=": lambda x, b: x == b,
    ">=": lambda x, b: x >= b,
    ">": lambda x, b: x > b,
}


@given(st.sampled_from(sorted(OPS)), numbers, numbers)
def test_numeric_comparison_agrees_with_python(op: str, bound: Any, value: Any) -> None:
    # at the ends of the double range a comparison can name no value or one: refused
    assume(abs(float(bound)) < sys.float_info.max)
    assert matches({"n": [{"numeric": [op, bound]}]}, {"n": value}) is OPS[op](value, bound)


@given(st.sampled_from([">", ">="]), st.sampled_from(["<", "<="]), numbers, numbers, numbers)
def test_numeric_range_agrees_with_python(
    low_op: str, high_op: str, low: Any, high: Any, value: Any
) -> None:
    assume(low < high)
    pattern = {"n": [{"numeric": [low_op, low, high_op, high]}]}
    expected = OPS[low_op](value, low) and OPS[high_op](value, high)
    assert matches(pattern, {"n": value}) is expected
    assert matches(pattern, {"n": [value]}) is expected


def glob_to_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if pattern[i] == "*" else re.escape(pattern[i]))
        i += 1
    return "".join(out)


wildcards = (
    st.lists(st.sampled_from(["a", "b", "*", "\\*", "\\\\"]), max_size=7)
    .filter(lambda tokens: all(t != "*" or u != "*" for t, u in pairwise(tokens)))
    .map("".join)
)


@given(wildcards, st.text(alphabet="ab*\\", max_size=10))
def test_wildcard_agrees_with_a_regex(pattern: str, value: str) -> None:
    expected = re.fullmatch(glob_to_regex(pattern), value, re.DOTALL) is not None
    assert matches({"s": [{"wildcard": pattern}]}, {"s": value}) is expected
    assert matches({"s": [{"anything-but": {"wildcard": pattern}}]}, {"s": value}) is not expected


@given(
    st.text(alphabet="aAbBzZ09-_ \u212a", max_size=6), st.text(alphabet="aAbBzZ09-_ ", max_size=6)
)
def test_ascii_equals_ignore_case_agrees_with_lower(value: str, text: str) -> None:
    def same(a: str, b: str) -> bool:  # case-blind for ASCII; the Kelvin sign is no "k"
        return a.isascii() and a.lower() == b.lower()

    n = len(text)
    head, tail = value[:n], value[max(len(value) - n, 0) :]
    assert matches({"s": [{"equals-ignore-case": text}]}, {"s": value}) is same(value, text)
    assert matches({"s": [{"prefix": {"equals-ignore-case": text}}]}, {"s": value}) is same(
        head, text
    )
    assert matches({"s": [{"suffix": {"equals-ignore-case": text}}]}, {"s": value}) is same(
        tail, text
    )


@given(st.integers(0, 2**32 - 1), st.integers(0, 31), st.integers(0, 2**32 - 1))
def test_ipv4_cidr_agrees_with_ipaddress(base: int, bits: int, address: int) -> None:
    network = ipaddress.IPv4Network((base, bits), strict=False)
    block = f"{ipaddress.IPv4Address(base)}/{bits}"
    ip = ipaddress.IPv4Address(address)
    assert matches({"ip": [{"cidr": block}]}, {"ip": str(ip)}) is (ip in network)


@given(st.integers(0, 2**128 - 1), st.integers(0, 127), st.integers(0, 2**128 - 1))
def test_ipv6_cidr_agrees_with_ipaddress(base: int, bits: int, address: int) -> None:
    network = ipaddress.IPv6Network((base, bits), strict=False)
    block = f"{ipaddress.IPv6Address(base)}/{bits}"
    ip = ipaddress.IPv6Address(address)
    assume(ip.ipv4_mapped is None and ipaddress.IPv6Address(base).ipv4_mapped is None)
    assert matches({"ip": [{"cidr": block}]}, {"ip": ip.exploded}) is (ip in network)
    assert matches({"ip": [{"cidr": block}]}, {"ip": str(ip)}) is (ip in network)
