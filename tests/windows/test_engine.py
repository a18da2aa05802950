import json

import pytest

from logway.errors import InvalidArgumentError, InvalidRecordError, WindowStateFullError
from logway.windows import (
    Custom,
    Late,
    WindowEngine,
    Windowing,
    WindowResult,
    compile_aggregations,
)

from .helpers import run, table

COUNT_SUM = {"n": "count", "s": ("sum", "x")}


def engine(emit: str = "final", max_open: int = 1_000_000, **windowing: object) -> WindowEngine:
    return WindowEngine(
        Windowing.build(**windowing),
        compile_aggregations(COUNT_SUM),
        emit,
        max_open,
    )


def test_tumbling_out_of_order_and_late() -> None:
    events = [
        ("a", 1_000, {"x": 1}),
        ("b", 4_000, {"x": 2}),
        ("a", 11_000, {"x": 3}),  # watermark 9_000 (grace 2s)
        ("a", 9_500, {"x": 4}),  # out of order, within grace: window [0, 10s) still open
        ("a", 13_000, {"x": 5}),  # watermark 11_000 closes [0, 10s)
        ("b", 2_000, {"x": 6}),  # late
        ("a", 10_000, {"x": 7}),
    ]
    finals, late = run(engine(tumbling="10s"), events, grace=2_000)
    assert table(finals) == [
        ("a", 0, 10_000, {"n": 2, "s": 5}),
        ("b", 0, 10_000, {"n": 1, "s": 2}),
        ("a", 10_000, 20_000, {"n": 3, "s": 15}),
    ]
    assert all(r.final for r in finals)
    assert late == [
        Late("b", 2_000, 11_000, "the window ending at 10000 closed at watermark 11000")
    ]


def test_windows_are_aligned_to_the_epoch_for_negative_times() -> None:
    finals, _ = run(engine(tumbling=10), [("k", -3, {"x": 1}), ("k", 3, {"x": 1})])
    assert [(r.start, r.end) for r in finals] == [(-10, 0), (0, 10)]


def test_hopping_assigns_a_record_to_every_window() -> None:
    events = [("k", 25, {"x": 1}), ("k", 31, {"x": 10}), ("k", 18, {"x": 100})]
    finals, late = run(engine(hopping=(30, 10)), events, grace=20)
    assert table(finals) == [
        ("k", -10, 20, {"n": 1, "s": 100}),
        ("k", 0, 30, {"n": 2, "s": 101}),
        ("k", 10, 40, {"n": 3, "s": 111}),
        ("k", 20, 50, {"n": 2, "s": 11}),
        ("k", 30, 60, {"n": 1, "s": 10}),
    ]
    assert late == []


def test_hopping_record_joins_only_its_open_windows() -> None:
    e = engine(hopping=(30, 10))
    e.add("k", 45, {"x": 1})
    e.advance(40)  # closes [10, 40)
    assert e.add("k", 25, {"x": 2}) == ((), None)  # [20, 50) is still open
    _, late = e.add("k", 5, {"x": 3})  # [0, 30) and [-10, 20)... all closed
    assert late is not None and "ending at 30" in late.reason
    assert table(e.advance(100)) == [
        ("k", 20, 50, {"n": 2, "s": 3}),
        ("k", 30, 60, {"n": 1, "s": 1}),
        ("k", 40, 70, {"n": 1, "s": 1}),
    ]


def test_session_merges_when_a_record_bridges_two() -> None:
    e = engine(session=10)
    e.add("k", 0, {"x": 1})
    e.add("k", 5, {"x": 2})
    e.add("k", 30, {"x": 4})
    e.add("j", 3, {"x": 8})
    assert e.open_windows == 3 and e.open_keys == 2
    e.add("k", 21, {"x": 16})  # joins [30, 40) only, not [0, 15)
    assert e.open_windows == 3
    e.add("k", 12, {"x": 32})  # within 10 of 5 and of 20: bridges [0, 15) and [20, 40)
    assert e.open_windows == 2
    assert table(e.advance(13)) == [("j", 3, 13, {"n": 1, "s": 8})]
    assert table(e.advance(100)) == [("k", 0, 40, {"n": 5, "s": 55})]
    assert e.open_windows == 0 and e.open_keys == 0


def test_session_gap_is_exclusive_and_late_sessions() -> None:
    e = engine(session=10)
    e.add("k", 0, {"x": 1})
    e.add("k", 10, {"x": 1})  # exactly gap apart: a new session, as windows [0,10) [10,20)
    assert e.open_windows == 2
    assert [r.end for r in e.advance(10)] == [10]
    _, late = e.add("k", -5, {"x": 1})
    assert late is not None and late.watermark == 10
    # a record older than the watermark still joins an open session it overlaps (as Flink)
    assert e.add("k", 5, {"x": 1}) == ((), None)
    assert table(e.advance(30)) == [("k", 5, 20, {"n": 2, "s": 2})]


def test_emit_update_returns_each_changed_window() -> None:
    e = engine("update", hopping=(20, 10))
    results, late = e.add("k", 15, {"x": 2})
    assert late is None
    assert results == [
        WindowResult("k", 0, 20, {"n": 1, "s": 2}, False),
        WindowResult("k", 10, 30, {"n": 1, "s": 2}, False),
    ]
    results, _ = e.add("k", 16, {"x": 3})
    assert [r.values for r in results] == [{"n": 2, "s": 5}] * 2
    s = engine("update", session=10)
    s.add("k", 0, {"x": 1})
    assert s.add("k", 5, {"x": 1})[0] == [WindowResult("k", 0, 15, {"n": 2, "s": 2}, False)]
    assert engine(tumbling=10).add("k", 1, {"x": 1}) == ((), None)


def test_watermark_never_lowers_and_results_are_ordered() -> None:
    e = engine(tumbling=10)
    assert e.watermark == -(2**63)
    for key in ["b", "a", "c"]:
        e.add(key, 12, {"x": 1})
        e.add(key, 3, {"x": 1})
    assert [(r.start, r.key) for r in e.advance(25)] == [
        (0, "a"),
        (0, "b"),
        (0, "c"),
        (10, "a"),
        (10, "b"),
        (10, "c"),
    ]
    assert e.advance(5) == []
    assert e.watermark == 25
    assert e.add("a", 19, {"x": 1})[1] is not None


def test_max_open_is_enforced() -> None:
    e = engine(max_open=2, tumbling=10)
    e.add("a", 1, {"x": 1})
    e.add("b", 1, {"x": 1})
    e.add("a", 2, {"x": 1})  # an open window: fine
    with pytest.raises(WindowStateFullError, match="2 are open of at most max_open=2"):
        e.add("c", 1, {"x": 1})
    e.advance(10)
    e.add("c", 11, {"x": 1})
    s = engine(max_open=1, session=10)
    s.add("a", 1, {"x": 1})
    with pytest.raises(WindowStateFullError):
        s.add("b", 1, {"x": 1})


@pytest.mark.parametrize(
    "windowing",
    [{"hopping": (20, 10)}, {"session": 10}, {"tumbling": 10}, {"sliding": 10}],
)
def test_bad_record_changes_no_window(windowing: dict[str, object]) -> None:
    e = WindowEngine(Windowing.build(**windowing), compile_aggregations(COUNT_SUM))
    e.add("k", 15, {"x": 1})
    opened = e.open_windows
    with pytest.raises(InvalidRecordError, match="'x'"):
        e.add("k", 16, {"x": "one"})
    with pytest.raises(InvalidRecordError, match="'x'"):
        e.add("new key", 25, {})  # would open new windows
    assert e.open_windows == opened
    assert {r.key for r in e.advance(100)} == {"k"}
    custom = Custom(0, lambda a, v: a + 1 // v["x"], merge=lambda a, b: a + b)
    c = WindowEngine(Windowing.build(**windowing), compile_aggregations({"c": custom}))
    c.add("k", 15, {"x": 1})
    with pytest.raises(ZeroDivisionError):  # a failing Custom reduce changes no window either
        c.add("k", 16, {"x": 0})
    assert [r.values for r in c.advance(100)][-1] == {"c": 1}


def test_hopping_max_open_counts_every_new_window() -> None:
    e = engine(max_open=3, hopping=(20, 10))
    e.add("a", 15, {"x": 1})
    with pytest.raises(WindowStateFullError):
        e.add("b", 15, {"x": 1})  # needs two
    assert e.open_windows == 2
    with pytest.raises(WindowStateFullError, match="2 are open of at most max_open=3"):
        e.add("b", 25, {"x": 1})  # [10, 30) and [20, 40) new
    e.add("a", 5, {"x": 1})  # [-10, 10) new, [0, 20) exists
    assert e.open_windows == 3


def test_bad_engine_arguments() -> None:
    aggs = compile_aggregations(COUNT_SUM)
    with pytest.raises(InvalidArgumentError, match="emit"):
        WindowEngine(Windowing.build(tumbling=10), aggs, emit="sometimes")
    with pytest.raises(InvalidArgumentError, match="max_open"):
        WindowEngine(Windowing.build(tumbling=10), aggs, max_open=0)
    no_merge = compile_aggregations({"c": Custom(0, lambda a, v: a + 1)})
    with pytest.raises(InvalidArgumentError, match=r"Custom aggregation\(s\) c need"):
        WindowEngine(Windowing.build(session=10), no_merge)
    WindowEngine(Windowing.build(tumbling=10), no_merge)  # no merging: fine


def test_snapshot_is_json_and_checked_on_restore() -> None:
    e = engine(tumbling=10)
    e.add(b"\x00k", 3, {"x": 1})
    e.add(("t", 1), 3, {"x": 2})
    snap = json.loads(json.dumps(e.snapshot()))
    r = WindowEngine.restore(e.windowing, e.aggregations, "final", snap)
    assert r.watermark == e.watermark and r.open_windows == 2
    assert table(r.advance(10)) == table(e.advance(10))
    with pytest.raises(InvalidArgumentError, match="same windowing"):
        WindowEngine.restore(Windowing.build(tumbling=20), e.aggregations, "final", snap)
    with pytest.raises(InvalidArgumentError, match="same aggregations"):
        WindowEngine.restore(e.windowing, compile_aggregations({"n": "count"}), "final", snap)
    e.add(object(), 13, {"x": 1})
    with pytest.raises(InvalidArgumentError, match="cannot be snapshotted"):
        e.snapshot()
