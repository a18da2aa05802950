from logway.windows import Watermarks, WindowEngine, Windowing, compile_aggregations


def test_min_across_partitions_minus_grace_and_never_lower() -> None:
    w = Watermarks(grace_ms=100, idle_ms=10_000)
    assert w.current == -(2**63)
    w.observe(0, 5_000, now_ms=0)
    w.observe(1, 3_000, now_ms=0)
    assert w.current == 2_900
    w.observe(1, 1_000, now_ms=1)  # an older record does not move it back
    assert w.current == 2_900
    w.observe(1, 9_000, now_ms=2)
    assert w.current == 4_900


def test_idle_partition_stops_holding_back() -> None:
    w = Watermarks(grace_ms=0, idle_ms=1_000)
    w.observe(0, 100, now_ms=0)
    w.observe(1, 50_000, now_ms=0)
    assert w.current == 100
    w.observe(1, 51_000, now_ms=1_500)  # partition 0 silent for 1.5 s: idle
    assert w.current == 51_000
    w.observe(0, 200, now_ms=1_600)  # back, but the watermark does not go down
    assert w.current == 51_000


def test_all_idle_advances_with_wall_clock_and_closes_the_last_window() -> None:
    w = Watermarks(grace_ms=500, idle_ms=2_000)
    engine = WindowEngine(Windowing.build(tumbling="10s"), compile_aggregations({"n": "count"}))
    engine.add("k", 3_000, None)
    w.observe(0, 3_000, now_ms=1_000_000)
    assert engine.advance(w.current) == []
    assert engine.advance(w.idle(1_001_999)) == []  # not idle yet: 2_500
    assert w.current == 2_500
    # idle from 1_002_000: event time moves on with the wall clock
    assert w.idle(1_005_000) == 3_000 - 500 + 3_000
    # [0, 10s) closes once 3_000 - 500 + (now - 1_000_000 - 2_000) >= 10_000
    assert engine.advance(w.idle(1_009_499)) == []
    closed = engine.advance(w.idle(1_009_500))
    assert [(r.key, r.end, r.values) for r in closed] == [("k", 10_000, {"n": 1})]


def test_assigned_partition_holds_back_until_its_first_record_or_idle() -> None:
    w = Watermarks(grace_ms=0, idle_ms=1_000)
    w.assign([0, 1], now_ms=0)
    w.observe(0, 5_000, now_ms=10)
    assert w.current == -(2**63)
    w.observe(1, 4_000, now_ms=20)
    assert w.current == 4_000
    w.assign([2], now_ms=30)
    w.observe(0, 6_000, now_ms=900)
    w.observe(1, 6_000, now_ms=900)
    assert w.current == 4_000  # partition 2 not idle yet
    w.observe(0, 7_000, now_ms=1_100)
    w.observe(1, 7_000, now_ms=1_100)
    assert w.current == 7_000
