"""Windowed aggregation: a window read from a topic, and the window engine beside Bytewax.

The workload: ``records`` records (1,000,000; ``--scale`` shrinks them) of one key per
100 records (10,000) over ten minutes of event time, out of order within each minute (so
no record is late with no grace), tumbling 1-minute windows, count and mean of one field
per key and window: about 100,000 windows of about 10 records.

- From a topic (``measure_windows``): the records are produced first (not timed) to a
  topic of one partition on the embedded backend, JSON values ``{"user": "user-17",
  "ms": 12.5}`` with the event time as the record timestamp. A ``WindowRunner`` (key
  ``user``, ``idle=1ms`` so the stream's last windows close as soon as it stops) is
  timed from its start until it has read every record and produced the final result of
  every window to its output topic. The reference is a hand-written loop over the same
  topic: the same consumer API (``poll`` of 5,000, as the runner's), ``json.loads`` of
  each value, ``[count, sum]`` in a dict keyed by (key, window start). The runner's
  results are checked against the loop's.
- In memory (``measure_bytewax``): ``WindowEngine.add`` of every record, the watermark
  raised to the highest event time after every 5,000 records as the runner does per
  poll, and the rest closed at the end; against Bytewax (``fold_window`` of
  ``[count, sum]`` with an ``EventClock`` and a ``TumblingWindower`` aligned to the
  epoch, fed by ``TestingSource`` and collected by ``TestingSink``, in this thread)
  over the same records. Bytewax is given its fastest settings: the whole input as one
  batch (batches of 1,000 run ten times slower), ``ordered=False`` (count and sum do not
  need event-time order) and event times already as datetimes. Both must find the same
  count and mean per (key, window start).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import logway
from common import Throughput
from logway.records import Message, TopicPartition
from logway.windows import WindowEngine, Windowing, compile_aggregations
from logway.windows.runner import WindowRunner, window_spec

RECORDS = 1_000_000
RECORDS_PER_KEY = 100
WINDOW_MS = 60_000
MINUTES = 10
TOPIC = "clicks"
POLL = 5_000  # records per poll, as WindowRunner's
PRODUCE_BATCH = 10_000
AGGREGATE = {"n": "count", "avg": ("mean", "ms")}
TIMEOUT_S = 300.0

Row = tuple[str, int, dict[str, Any]]  # key, event time (ms since the epoch), value
Results = dict[tuple[str, int], tuple[int, float]]  # (key, window start) -> (count, mean)


def make_records(count: int = RECORDS) -> list[Row]:
    """``count`` records over ``MINUTES`` minutes ending an hour ago (recent, so
    retention keeps them), shuffled within each minute; the last record is at the
    last millisecond of the last minute, so idleness closes that minute at once."""
    rng = random.Random(7)
    names = [f"user-{i}" for i in range(max(1, count // RECORDS_PER_KEY))]
    base = (int(time.time() * 1000) // WINDOW_MS - 60 - MINUTES) * WINDOW_MS
    rows: list[Row] = []
    for i in range(count):
        minute = i * MINUTES // count
        t = base + minute * WINDOW_MS + rng.randrange(WINDOW_MS)
        name = rng.choice(names)
        rows.append((name, t, {"user": name, "ms": round(rng.random() * 100, 3)}))
    key, _t, value = rows[-1]
    rows[-1] = (key, base + MINUTES * WINDOW_MS - 1, value)
    return rows


def compare(name: str, got: Results, want: Results, reference: str) -> str | None:
    """None when both hold the same windows with the same count and mean (within 1e-9),
    else what differs."""
    if got.keys() != want.keys():
        only, missing = len(got.keys() - want.keys()), len(want.keys() - got.keys())
        return (
            f"{name} has {len(got):,} windows, {reference} {len(want):,} "
            f"({only:,} only in {name}, {missing:,} only in {reference})"
        )
    for window, (n, mean) in want.items():
        n2, mean2 = got[window]
        if n != n2 or abs(mean - mean2) > 1e-9:
            return f"window {window}: {name} has n={n2} mean={mean2}, {reference} n={n} mean={mean}"
    return None


# --- read from a topic -----------------------------------------------------------------


@dataclass
class TopicWindowFigures:
    """A ``WindowRunner`` over the topic, and the dict loop over the same topic."""

    runner: Throughput
    loop: Throughput
    windows: int  # final results each run produced
    mismatch: str | None  # how the runner's results differ from the loop's, if they do

    def to_json(self) -> dict[str, object]:
        return {
            "window_runner": self.runner.to_json(),
            "dict_loop": self.loop.to_json(),
            "ratio": round(self.runner.records_per_s / self.loop.records_per_s, 4),
            "windows": self.windows,
            "mismatch": self.mismatch,
        }


def _produce(broker: logway.Broker, rows: list[Row]) -> int:
    """The records as JSON values with their event time as timestamp; bytes written."""
    nbytes = 0
    for i in range(0, len(rows), PRODUCE_BATCH):
        batch = []
        for _key, t, value in rows[i : i + PRODUCE_BATCH]:
            data = json.dumps(value).encode()
            nbytes += len(data)
            batch.append(Message(data, None, None, None, t))
        broker.produce_many(TOPIC, batch)
    return nbytes


def _loop(broker: logway.Broker, total: int) -> tuple[float, Results]:
    """The reference: read the topic, decode each value, [count, sum] per window."""
    windows: dict[tuple[str, int], list[Any]] = {}
    get, loads = windows.get, json.loads
    gc.collect()
    started = time.perf_counter()
    done = 0
    with broker.consumer(TOPIC, partitions=[TopicPartition(TOPIC, 0)]) as consumer:
        while done < total:
            records = consumer.poll(timeout=5, max_records=POLL)
            if not records:
                raise RuntimeError(f"the dict loop stalled after {done:,} records")
            for record in records:
                value = loads(record.value)
                t = record.timestamp
                k = (value["user"], t - t % WINDOW_MS)
                state = get(k)
                if state is None:
                    state = windows[k] = [0, 0.0]
                state[0] += 1
                state[1] += value["ms"]
            done += len(records)
    elapsed = time.perf_counter() - started
    return elapsed, {k: (n, s / n) for k, (n, s) in windows.items()}


def _runner(broker: logway.Broker, rep: int, total: int, windows: int) -> tuple[float, Results]:
    """A ``WindowRunner`` from its start until every record is read and every window's
    final result produced; then stopped (not timed) and its output read back."""
    out = f"{TOPIC}-per-minute-{rep}"
    spec = window_spec(
        f"per-minute-{rep}",
        TOPIC,
        out,
        aggregate=AGGREGATE,
        tumbling="1m",
        key="user",
        idle="1ms",
    )

    async def run() -> float:
        gc.collect()  # no garbage of an earlier run collected in this one
        stopping = asyncio.Event()
        started = time.perf_counter()
        runner = WindowRunner(broker, "bench", spec)
        task = asyncio.ensure_future(runner.run(stopping))
        stats = runner.stats
        while stats["records_in"] < total or stats["results"] < windows:
            if task.done():
                await task
                raise RuntimeError("the window runner stopped before reading every record")
            if time.perf_counter() - started > TIMEOUT_S:
                stopping.set()
                await task
                raise RuntimeError(f"the window runner took over {TIMEOUT_S:.0f} s: {stats}")
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        stopping.set()
        await task
        if stats["late"] or stats["errors"]:
            raise RuntimeError(f"the window runner set records aside: {stats}")
        return elapsed

    elapsed = asyncio.run(run())
    results: Results = {}
    offset, end = 0, broker.end_offsets(out)[0]
    while offset < end:
        for record in broker.fetch(out, 0, offset, max_records=10_000):
            row = json.loads(record.value or b"")
            results[(row["key"], row["window_start"])] = (row["n"], row["avg"])
            offset = record.offset + 1
    return elapsed, results


def measure_windows(root: str, records: int = RECORDS, reps: int = 3) -> TopicWindowFigures:
    """The runner and the dict loop over one topic, interleaved, each best of ``reps``."""
    rows = make_records(records)
    runner_runs, loop_runs = [], []
    mismatch = None
    with logway.connect(f"file:{os.path.join(root, 'windows')}") as broker:
        broker.create_topic(TOPIC)
        nbytes = _produce(broker, rows)
        del rows
        want: Results = {}
        for rep in range(reps):
            elapsed, want = _loop(broker, records)
            loop_runs.append(elapsed)
            elapsed, got = _runner(broker, rep, records, len(want))
            runner_runs.append(elapsed)
            mismatch = mismatch or compare("the window runner", got, want, "the dict loop")
    return TopicWindowFigures(
        Throughput(records, nbytes, runner_runs),
        Throughput(records, nbytes, loop_runs),
        len(want),
        mismatch,
    )


# --- in memory, beside Bytewax ---------------------------------------------------------


@dataclass
class BytewaxFigures:
    """``WindowEngine`` and Bytewax over the same records in memory."""

    engine: Throughput
    bytewax: Throughput
    windows: int
    mismatch: str | None  # how the engine's results differ from Bytewax's, if they do

    def to_json(self) -> dict[str, object]:
        return {
            "window_engine": self.engine.to_json(),
            "bytewax": self.bytewax.to_json(),
            "ratio": round(self.engine.records_per_s / self.bytewax.records_per_s, 4),
            "windows": self.windows,
            "mismatch": self.mismatch,
        }


def _engine(rows: list[Row]) -> tuple[float, Results]:
    """``WindowEngine``: every record added, the watermark raised per ``POLL`` records."""
    engine = WindowEngine(Windowing.build(tumbling="1m"), compile_aggregations(AGGREGATE))
    add, advance = engine.add, engine.advance
    closed = []
    high = -(2**63)
    gc.collect()
    started = time.perf_counter()
    for i in range(0, len(rows), POLL):
        for key, t, value in rows[i : i + POLL]:
            add(key, t, value)
            if t > high:
                high = t
        closed += advance(high)
    closed += advance(2**62)
    elapsed = time.perf_counter() - started
    return elapsed, {(r.key, r.start): (r.values["n"], r.values["avg"]) for r in closed}


def _bytewax(items: list[tuple[str, datetime, dict[str, Any]]]) -> tuple[float, Results]:
    """Bytewax's ``fold_window`` of [count, sum] per key and tumbling minute."""
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.operators.windowing import EventClock, TumblingWindower, fold_window
    from bytewax.testing import TestingSink, TestingSource, run_main

    def fold(state: list[Any], item: tuple[str, datetime, dict[str, Any]]) -> list[Any]:
        state[0] += 1
        state[1] += item[2]["ms"]
        return state

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    flow = Dataflow("per_minute")
    up = op.input("records", flow, TestingSource(items, batch_size=max(1, len(items))))
    keyed = op.key_on("by_user", up, lambda item: item[0])
    windowed = fold_window(
        "count_sum",
        keyed,
        EventClock(lambda item: item[1], wait_for_system_duration=timedelta(minutes=1)),
        TumblingWindower(length=timedelta(minutes=1), align_to=epoch),
        builder=lambda: [0, 0.0],
        folder=fold,
        merger=lambda a, b: [a[0] + b[0], a[1] + b[1]],
        ordered=False,
    )
    out: list[tuple[str, tuple[int, list[Any]]]] = []
    op.output("results", windowed.down, TestingSink(out))
    gc.collect()
    started = time.perf_counter()
    run_main(flow)
    elapsed = time.perf_counter() - started
    # a tumbling window's id counts windows from align_to: its start is id minutes
    results = {(key, wid * WINDOW_MS): (n, s / n) for key, (wid, (n, s)) in out}
    return elapsed, results


def measure_bytewax(records: int = RECORDS, reps: int = 3) -> BytewaxFigures:
    """The engine and Bytewax over the same records, interleaved, best of ``reps``."""
    try:
        import bytewax  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "bytewax is not installed: .venv/bin/pip install -e '.[test,bench]' "
            "(the bench extra has it)"
        ) from None
    rows = make_records(records)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    items = [(key, epoch + timedelta(milliseconds=t), value) for key, t, value in rows]
    engine_runs, bytewax_runs = [], []
    mismatch = None
    want: Results = {}
    for _ in range(reps):
        elapsed, want = _bytewax(items)
        bytewax_runs.append(elapsed)
        elapsed, got = _engine(rows)
        engine_runs.append(elapsed)
        mismatch = mismatch or compare("logway's window engine", got, want, "Bytewax")
    return BytewaxFigures(
        Throughput(records, 0, engine_runs),
        Throughput(records, 0, bytewax_runs),
        len(want),
        mismatch,
    )


if __name__ == "__main__":
    import argparse

    from common import scratch_dir

    parser = argparse.ArgumentParser(description="windowed aggregation benchmarks")
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-bytewax", action="store_true")
    args = parser.parse_args()
    with scratch_dir("windows") as root:
        topic = measure_windows(root, args.records, args.reps)
    print(
        f"from a topic: WindowRunner {topic.runner.records_per_s:,.0f} records/s "
        f"(target >= 500,000), dict loop {topic.loop.records_per_s:,.0f} records/s, ratio "
        f"{topic.runner.records_per_s / topic.loop.records_per_s:.3f} (target >= 0.5); "
        f"{topic.windows:,} windows; runs {topic.runner.runs} / {topic.loop.runs}"
        + (f"; MISMATCH: {topic.mismatch}" if topic.mismatch else "")
    )
    if not args.skip_bytewax:
        bw = measure_bytewax(args.records, args.reps)
        print(
            f"in memory: WindowEngine {bw.engine.records_per_s:,.0f} records/s, Bytewax "
            f"{bw.bytewax.records_per_s:,.0f} records/s, ratio "
            f"{bw.engine.records_per_s / bw.bytewax.records_per_s:.2f} (target >= 3); "
            f"{bw.windows:,} windows" + (f"; MISMATCH: {bw.mismatch}" if bw.mismatch else "")
        )
