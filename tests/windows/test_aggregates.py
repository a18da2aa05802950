import json
from typing import Any

import pytest

from logway.errors import InvalidArgumentError, InvalidRecordError
from logway.windows import Custom, compile_aggregations


def feed(spec: dict[str, Any], rows: list[tuple[dict[str, Any], int]]) -> dict[str, Any]:
    aggs = compile_aggregations(spec)
    state = aggs.initial()
    for value, t in rows:
        aggs.add(state, value, t)
    return aggs.results(state)


def test_every_kind() -> None:
    rows = [({"x": 3, "u": "a", "m": {"v": 1}}, 20), ({"x": 1, "u": "b", "m": {"v": 2}}, 10)]
    rows += [({"x": 8, "u": "a", "m": {"v": 3}}, 30), ({"x": 4, "u": "c", "m": {"v": 4}}, 10)]
    out = feed(
        {
            "n": "count",
            "n2": ("count",),
            "s": ("sum", "x"),
            "lo": ("min", "x"),
            "hi": ("max", "x"),
            "avg": ("mean", "x"),
            "first": ("first", "m.v"),
            "last": ("last", "u"),
            "users": ("distinct_count", "u"),
            "double": ("sum", lambda v: v["x"] * 2),
            "p50": ("percentile", "x", 0.5),
            "c": Custom([], lambda acc, v: [*acc, v["u"]], result=lambda acc: "".join(acc)),
        },
        rows,
    )
    assert out == {
        "n": 4,
        "n2": 4,
        "s": 16,
        "lo": 1,
        "hi": 8,
        "avg": 4.0,
        "first": 2,  # t=10 twice: the earlier arrival
        "last": "a",  # t=30
        "users": 3,
        "double": 32,
        "p50": pytest.approx(3, rel=0.01),
        "c": "abac",
    }


def test_last_on_equal_times_takes_the_later_arrival() -> None:
    assert feed({"l": ("last", "u")}, [({"u": "a"}, 5), ({"u": "b"}, 5)]) == {"l": "b"}


def test_merge_and_json_round_trip() -> None:
    spec = {
        "n": "count",
        "avg": ("mean", "x"),
        "lo": ("min", "x"),
        "f": ("first", "x"),
        "l": ("last", "x"),
        "d": ("distinct_count", "x"),
        "p": ("percentile", "x", 1.0),
        "c": Custom(0, lambda acc, v: acc + v["x"], merge=lambda a, b: a + b),
    }
    aggs = compile_aggregations(spec)
    a, b = aggs.initial(), aggs.initial()
    for t, x in [(5, 1), (9, 2)]:
        aggs.add(a, {"x": x}, t)
    for t, x in [(3, 7), (11, 2)]:
        aggs.add(b, {"x": x}, t)
    b = aggs.from_json(json.loads(json.dumps(aggs.to_json(b))))
    merged = aggs.results(aggs.merge(a, b))
    assert merged == {
        "n": 4,
        "avg": 3.0,
        "lo": 1,
        "f": 7,
        "l": 2,
        "d": 3,
        "p": pytest.approx(7, rel=0.01),
        "c": 12,
    }


def test_custom_initial_is_fresh_per_window() -> None:
    aggs = compile_aggregations({"c": Custom([], lambda acc, v: acc.append(v) or acc)})
    a, b = aggs.initial(), aggs.initial()
    aggs.add(a, 1, 0)
    assert aggs.results(b) == {"c": []}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"y": 1}, "no field 'x'"),
        ("not a dict", "no field 'x'"),
        ({"x": "12"}, "'x' must be a number"),
        ({"x": True}, "'x' must be a number"),
        ({"x": None}, "'x' must be a number"),
    ],
)
def test_bad_record_names_the_field_and_changes_nothing(value: Any, message: str) -> None:
    aggs = compile_aggregations({"n": "count", "s": ("sum", "x")})
    state = aggs.initial()
    aggs.add(state, {"x": 2}, 0)
    with pytest.raises(InvalidRecordError, match=message):
        aggs.add(state, value, 1)
    assert aggs.results(state) == {"n": 1, "s": 2}


def test_dotted_path_and_unhashable_and_non_finite() -> None:
    aggs = compile_aggregations({"d": ("distinct_count", "a.b"), "p": ("percentile", "q", 0.5)})
    with pytest.raises(InvalidRecordError, match=r"'a\.b'"):
        aggs.add(aggs.initial(), {"a": {}, "q": 1}, 0)
    with pytest.raises(InvalidRecordError, match="hashable"):
        aggs.add(aggs.initial(), {"a": {"b": [1]}, "q": 1}, 0)
    with pytest.raises(InvalidRecordError, match="finite"):
        aggs.add(aggs.initial(), {"a": {"b": 1}, "q": float("inf")}, 0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "non-empty mapping"),
        ({"n": "counts"}, "must be 'count'"),
        ({"n": ("sum",)}, "must be 'count'"),
        ({"n": ("sum", "")}, "field must be"),
        ({"n": ("median", "x")}, "must be 'count'"),
        ({"p": ("percentile", "x", 1.5)}, "from 0 to 1"),
        ({"p": ("percentile", "x")}, "percentile"),
        ({"c": Custom(0, "not callable")}, "callable"),  # type: ignore[arg-type]
    ],
)
def test_bad_spec_is_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        compile_aggregations(spec)
