"""A snapshot taken mid-stream and restored gives the results of an uninterrupted run."""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from logway.windows import WindowEngine, Windowing, WindowResult, compile_aggregations

SPEC = {
    "n": "count",
    "s": ("sum", "x"),
    "avg": ("mean", "x"),
    "hi": ("max", "x"),
    "f": ("first", "x"),
    "l": ("last", "x"),
    "d": ("distinct_count", "x"),
    "p": ("percentile", "x", 0.9),
}

events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=0, max_value=200),
        st.integers(min_value=-5, max_value=5),
        st.booleans(),  # advance the watermark after this record
    ),
    max_size=60,
)


def feed(
    engine: WindowEngine, batch: list[tuple[str, int, int, bool]], clock: list[int]
) -> list[Any]:
    """Add the records; ``clock[0]``, the max event time, is the caller's (the runner's)
    state, kept across the restart as a runner keeps its partitions' positions."""
    out: list[Any] = []
    for key, t, x, tick in batch:
        results, late = engine.add(key, t, {"x": x})
        out += results
        if late is not None:
            out.append(late)
        clock[0] = max(clock[0], t)
        if tick:
            out += engine.advance(clock[0] - 15)
    return out


def check_round_trip(windowing: Windowing, emit: str, batch: list[Any], cut: int) -> None:
    aggs = compile_aggregations(SPEC)
    whole = WindowEngine(windowing, aggs, emit)
    expected = feed(whole, batch, [0]) + whole.advance(10**6)
    first = WindowEngine(windowing, aggs, emit)
    clock = [0]
    got = feed(first, batch[:cut], clock)
    snap = json.loads(json.dumps(first.snapshot()))
    second = WindowEngine.restore(windowing, aggs, emit, snap)
    got += feed(second, batch[cut:], clock) + second.advance(10**6)
    assert got == expected
    assert all(isinstance(r, WindowResult) or r.event_time < r.watermark for r in got)


@settings(max_examples=150, deadline=None)
@given(events, st.integers(min_value=0, max_value=60), st.sampled_from(["final", "update"]))
def test_tumbling_round_trip(batch: list[Any], cut: int, emit: str) -> None:
    check_round_trip(Windowing.build(tumbling=20), emit, batch, cut)


@settings(max_examples=150, deadline=None)
@given(events, st.integers(min_value=0, max_value=60), st.sampled_from(["final", "update"]))
def test_session_round_trip(batch: list[Any], cut: int, emit: str) -> None:
    check_round_trip(Windowing.build(session=12), emit, batch, cut)


@settings(max_examples=50, deadline=None)
@given(events, st.integers(min_value=0, max_value=60))
def test_hopping_round_trip(batch: list[Any], cut: int) -> None:
    check_round_trip(Windowing.build(hopping=(30, 10)), "update", batch, cut)


@settings(max_examples=100, deadline=None)
@given(events, st.integers(min_value=0, max_value=60), st.sampled_from(["final", "update"]))
def test_sliding_round_trip(batch: list[Any], cut: int, emit: str) -> None:
    check_round_trip(Windowing.build(sliding=12), emit, batch, cut)
