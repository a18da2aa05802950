"""Sliding windows against the example of Kafka Streams' SlidingWindows javadoc."""

from logway.windows import WindowEngine, Windowing, WindowResult, compile_aggregations

from .helpers import run, table

SPEC = {"n": "count", "s": ("sum", "x"), "l": ("last", "x")}


def engine(emit: str = "final") -> WindowEngine:
    return WindowEngine(Windowing.build(sliding="5s"), compile_aggregations(SPEC), emit)


def test_kafka_streams_javadoc_example() -> None:
    events = [("A", 8_000, {"x": 1}), ("A", 9_200, {"x": 2}), ("A", 12_400, {"x": 3})]
    finals, late = run(engine(), events)
    assert table(finals) == [
        ("A", 3_000, 8_000, {"n": 1, "s": 1, "l": 1}),
        ("A", 4_200, 9_200, {"n": 2, "s": 3, "l": 2}),
        ("A", 7_400, 12_400, {"n": 3, "s": 6, "l": 3}),
        ("A", 8_001, 13_001, {"n": 2, "s": 5, "l": 3}),
        ("A", 9_201, 14_201, {"n": 1, "s": 3, "l": 3}),
    ]
    assert late == []


def test_out_of_order_gives_the_same_windows_and_late_records_are_refused() -> None:
    events = [
        ("A", 12_400, {"x": 3}),
        ("A", 8_000, {"x": 1}),
        ("B", 3_000, {"x": 7}),  # watermark 2_400: its window [-2_000, 3_000] is open
        ("B", 1_000, {"x": 5}),  # its own [-4_000, 1_000] is closed, but [-2_000, 3_000] open
        ("A", 9_200, {"x": 2}),
    ]
    finals, late = run(engine(), events, grace=10_000)
    in_order = [e for e in events if e[0] == "A"]
    assert [r for r in finals if r.key == "A"] == run(
        engine(), sorted(in_order, key=lambda e: e[1])
    )[0]
    assert table([r for r in finals if r.key == "B"]) == [
        ("B", -2_000, 3_000, {"n": 2, "s": 12, "l": 7}),
        ("B", 1_001, 6_001, {"n": 1, "s": 7, "l": 7}),  # made when 1_000 drops out
    ]
    assert late == []
    e = engine()
    e.add("A", 8_000, {"x": 1})
    assert table(e.advance(8_001)) == [("A", 3_000, 8_000, {"n": 1, "s": 1, "l": 1})]
    results, lt = e.add("A", 7_000, {"x": 5})  # [2_000, 7_000] and [3_000, 8_000] closed
    assert not results and lt is not None
    assert lt.reason == "the window ending at 8000 closed at watermark 8001"
    assert e.add("A", 8_001, {"x": 9}) == ((), None)
    assert table(e.advance(20_000)) == [
        ("A", 3_001, 8_001, {"n": 2, "s": 10, "l": 9}),
        ("A", 8_001, 13_001, {"n": 1, "s": 9, "l": 9}),
    ]


def test_emit_update_and_expiry() -> None:
    e = engine("update")
    assert e.add("A", 8_000, {"x": 1})[0] == [
        WindowResult("A", 3_000, 8_000, {"n": 1, "s": 1, "l": 1}, False)
    ]
    results, _ = e.add("A", 9_200, {"x": 2})
    assert table(results) == [
        ("A", 4_200, 9_200, {"n": 2, "s": 3, "l": 2}),
        ("A", 8_001, 13_001, {"n": 1, "s": 2, "l": 2}),
    ]
    results, _ = e.add("A", 7_000, {"x": 4})  # out of order: its left window, and the others
    assert table(results) == [
        ("A", 2_000, 7_000, {"n": 1, "s": 4, "l": 4}),
        ("A", 3_000, 8_000, {"n": 2, "s": 5, "l": 1}),
        ("A", 4_200, 9_200, {"n": 3, "s": 7, "l": 2}),
        ("A", 7_001, 12_001, {"n": 2, "s": 3, "l": 2}),
    ]
    assert e.open_windows == 3 and e.open_keys == 1
    e.advance(100_000)
    assert e.open_windows == 0 and e.open_keys == 0
