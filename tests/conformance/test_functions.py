"""Functions (event source mappings) on every backend: batching, starting positions,
filters, retries, bisect, partial failures, the on_failure topic, order and commits."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

import logway
from logway.functions import control
from logway.functions.batch import Batch
from logway.functions.runner import FunctionRunner, run_functions
from tests.conformance.conftest import BrokerFactory

T = TypeVar("T")
DEADLINE = 30.0
FAST_RETRY = {"retry_backoff": 0.01, "retry_backoff_max": 0.05}


def run_until(
    running: Callable[[asyncio.Event], Awaitable[T]],
    until: Callable[[], bool],
    before: Callable[[], None] | None = None,
) -> T:
    """Run ``running(stopping)`` until ``until()`` holds (checked as it runs, with a
    deadline), then stop it the way SIGTERM does, and return what it returns."""

    async def scenario() -> T:
        stopping = asyncio.Event()
        task = asyncio.ensure_future(running(stopping))
        if before is not None:
            await asyncio.to_thread(before)
        end = time.monotonic() + DEADLINE
        while not until():
            if task.done():
                task.result()
                raise AssertionError("the runners stopped by themselves")
            assert time.monotonic() < end, "the condition did not hold in time"
            await asyncio.sleep(0.01)  # the runners work meanwhile
        stopping.set()
        return await task

    return asyncio.run(scenario())


def run_app(
    broker: logway.Broker,
    app: logway.App,
    until: Callable[[], bool],
    before: Callable[[], None] | None = None,
) -> list[FunctionRunner]:
    """Run the app's functions until ``until()`` holds, then stop them."""
    return run_until(partial(run_functions, broker, app.name, app.functions), until, before)


def committed(broker: logway.Broker, group: str, topic: str, offset: int) -> Callable[[], bool]:
    """Whether ``group`` has committed ``offset`` on partition 0 of ``topic``."""
    part = logway.TopicPartition(topic, 0)
    return lambda: broker.committed(group, topic).get(part) == offset


def offsets(batches: list[Batch]) -> list[tuple[int, int]]:
    return [(r.partition, r.offset) for b in batches for r in b]


def test_every_record_once_in_order_in_batches_then_committed(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic, partitions=2)
    app = logway.App("orders")
    seen: list[Batch] = []

    @app.function(topic, batch_size=40, starting_position="earliest")
    def handle(batch: Batch) -> None:
        seen.append(batch)

    for p in (0, 1):
        broker.produce_many(topic, [f"{p}-{i}".encode() for i in range(100)], partition=p)
    run_app(broker, app, until=lambda: sum(len(b) for b in seen) >= 200)
    assert all(1 <= len(b) <= 40 for b in seen)
    assert all(len(b.partitions) == 1 for b in seen)  # a batch holds one partition
    for p in (0, 1):
        mine = [r for b in seen for r in b if r.partition == p]
        assert [r.offset for r in mine] == list(range(100))
        assert [r.value for r in mine] == [f"{p}-{i}".encode() for i in range(100)]
    group = broker.committed("orders.handle", topic)
    assert group == {logway.TopicPartition(topic, 0): 100, logway.TopicPartition(topic, 1): 100}


def test_the_commit_of_a_last_full_batch_is_made_while_the_function_runs(
    broker: logway.Broker, topic: str
) -> None:
    """Full batches hand their commits over at most every few ms, the rest with the
    next; the last one's is still made without a stop or another record."""
    broker.create_topic(topic)
    app = logway.App("full")
    seen: list[int] = []

    @app.function(topic, batch_size=10, starting_position="earliest")
    def handle(batch: Batch) -> None:
        seen.extend(r.offset for r in batch)

    broker.produce_many(topic, [b"x"] * 200)  # twenty full batches, nothing after
    run_app(broker, app, until=committed(broker, "full.handle", topic, 200))
    assert seen == list(range(200))


def test_starting_position_applies_only_before_the_first_commit(
    open_broker: BrokerFactory, topic: str
) -> None:
    broker = open_broker()
    broker.create_topic(topic)
    broker.produce_many(topic, [b"old-1", b"old-2"])
    latest, earliest = logway.App("late"), logway.App("early")
    got: dict[str, list[bytes | None]] = {"late": [], "early": []}

    @latest.function(topic, name="f")  # starting_position="latest" is the default
    def late(batch: Batch) -> None:
        got["late"] += [r.value for r in batch]

    @earliest.function(topic, name="f", starting_position="earliest")
    def early(batch: Batch) -> None:
        got["early"] += [r.value for r in batch]

    run_app(broker, earliest, until=lambda: len(got["early"]) == 2)
    started = lambda: broker.committed("late.f", topic) != {}  # noqa: E731
    run_app(broker, latest, until=started)
    broker.produce(topic, b"new")
    run_app(broker, latest, until=lambda: got["late"] == [b"new"])
    run_app(broker, earliest, until=lambda: got["early"] == [b"old-1", b"old-2", b"new"])
    assert got["late"] == [b"new"]


def test_batching_window_gathers_records_produced_one_by_one(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("window")
    seen: list[Batch] = []

    @app.function(topic, batch_size=1000, batching_window=1.0, starting_position="earliest")
    def handle(batch: Batch) -> None:
        seen.append(batch)

    def produce() -> None:
        for i in range(5):
            broker.produce(topic, f"r{i}")

    run_app(broker, app, until=lambda: sum(len(b) for b in seen) == 5, before=produce)
    assert [len(b) for b in seen] == [5]


def test_batch_size_and_payload_bytes_bound_a_batch(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    app = logway.App("sizes")
    seen: list[Batch] = []

    @app.function(topic, batch_size=3, max_batch_bytes=2500, starting_position="earliest")
    def handle(batch: Batch) -> None:
        seen.append(batch)

    broker.produce_many(topic, [b"s"] * 7 + [b"x" * 1000] * 5)
    run_app(broker, app, until=lambda: sum(len(b) for b in seen) == 12)
    assert all(len(b) <= 3 for b in seen)
    assert all(sum(len(r.value or b"") for r in b) <= 2500 for b in seen)
    assert offsets(seen) == [(0, i) for i in range(12)]


def test_filters_pass_matching_json_and_commit_the_rest(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    app = logway.App("filtered")
    seen: list[Batch] = []

    @app.function(
        topic,
        starting_position="earliest",
        filters=[
            {"value": {"kind": ["order"], "total": [{"numeric": [">", 100]}]}},
            {"key": [{"prefix": "vip-"}]},
        ],
    )
    def handle(batch: Batch) -> None:
        seen.append(batch)

    values = [
        (b"k1", {"kind": "order", "total": 150}),  # 0: matches the first pattern
        (b"k2", {"kind": "order", "total": 50}),  # 1: too small
        (b"k3", {"kind": "refund", "total": 500}),  # 2: not an order
        (b"vip-1", {"kind": "refund", "total": 1}),  # 3: matches the second pattern
        (b"k5", "not json {"),  # 4: not JSON: never matches on the value
    ]
    broker.produce_many(
        topic,
        [logway.Message(v if isinstance(v, str) else json.dumps(v), key=k) for k, v in values],
    )
    run_app(broker, app, until=committed(broker, "filtered.handle", topic, 5))
    assert offsets(seen) == [(0, 0), (0, 3)]
    assert seen[0][0].json() == {"kind": "order", "total": 150}


def test_a_poison_record_is_isolated_by_bisect_and_dead_lettered(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("bisect")
    handled: list[bytes | None] = []
    attempts: list[int] = []

    @app.function(
        topic,
        batch_size=8,
        starting_position="earliest",
        retry_attempts=2,
        bisect_on_error=True,
        on_failure=f"{topic}-dlq",
        **FAST_RETRY,
    )
    def handle(batch: Batch) -> None:
        attempts.append(len(batch))
        if any(r.value == b"poison" for r in batch):
            raise ValueError("cannot digest poison")
        handled.extend(r.value for r in batch)

    values = [f"ok{i}".encode() for i in range(8)]
    values[5] = b"poison"
    broker.produce_many(topic, [logway.Message(v, headers={"trace": b"t1"}) for v in values])
    run_app(broker, app, until=committed(broker, "bisect.handle", topic, 8))
    assert handled == [v for v in values if v != b"poison"]  # the rest, in order
    dead = broker.fetch(f"{topic}-dlq", 0, 0)
    assert [r.value for r in dead] == [b"poison"]
    headers = dict(dead[0].headers)
    assert headers["trace"] == b"t1"
    assert headers["logway.source.topic"] == topic.encode()
    assert headers["logway.source.offset"] == b"5"
    assert headers["logway.error.type"] == b"ValueError"
    assert headers["logway.error.message"] == b"cannot digest poison"
    assert headers["logway.attempts"] == b"3"
    assert attempts.count(1) >= 3  # the poison alone: the first try and two retries


def test_without_on_failure_a_failing_partition_stays_blocked(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("blocked")
    handled: list[bytes | None] = []
    tries = [0]

    @app.function(topic, batch_size=1, starting_position="earliest", retry_attempts=1, **FAST_RETRY)
    def handle(batch: Batch) -> None:
        if batch[0].value == b"bad":
            tries[0] += 1
            raise RuntimeError("still bad")
        handled.append(batch[0].value)

    broker.produce_many(topic, [b"a", b"bad", b"c"])
    runners = run_app(broker, app, until=lambda: tries[0] >= 4)
    assert handled == [b"a"]  # c waits behind bad: the order is never broken
    assert broker.committed("blocked.handle", topic) == {logway.TopicPartition(topic, 0): 1}
    assert runners[0].stats.last_error == "RuntimeError: still bad"


def test_item_failures_resume_from_the_lowest_failed_offset(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("partial")
    seen: list[list[int]] = []

    @app.function(
        topic, batch_size=10, starting_position="earliest", report_item_failures=True, **FAST_RETRY
    )
    def handle(batch: Batch) -> Any:
        seen.append([r.offset for r in batch])
        if len(seen) == 1:
            return [6, batch[4]]  # offsets or records: 4 is the lowest
        return None

    broker.produce_many(topic, [b"v"] * 10)
    run_app(broker, app, until=committed(broker, "partial.handle", topic, 10))
    assert seen == [list(range(10)), list(range(4, 10))]


def test_records_past_max_record_age_go_to_on_failure_without_retries(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("aged")
    tries = [0]

    @app.function(
        topic,
        starting_position="earliest",
        max_record_age=60,
        on_failure=f"{topic}-late",
        **FAST_RETRY,
    )
    def handle(batch: Batch) -> None:
        tries[0] += 1
        raise TimeoutError("downstream is down")

    old = int(time.time() * 1000) - 120_000
    broker.produce(topic, b"stale", timestamp=old)
    run_app(broker, app, until=committed(broker, "aged.handle", topic, 1))
    dead = broker.fetch(f"{topic}-late", 0, 0)
    assert [(r.value, r.timestamp) for r in dead] == [(b"stale", old)]
    assert tries[0] == 1


def test_async_handlers_and_two_functions_read_independently(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("fanout")
    got: dict[str, list[bytes | None]] = {"a": [], "b": []}

    @app.function(topic, starting_position="earliest")
    async def a(batch: Batch) -> None:
        await asyncio.sleep(0)
        got["a"] += [r.value for r in batch]

    @app.function(topic, starting_position="earliest")
    def b(batch: Batch) -> None:
        got["b"] += [r.value for r in batch]

    broker.produce_many(topic, [b"1", b"2", b"3"])
    run_app(broker, app, until=lambda: len(got["a"]) == 3 and len(got["b"]) == 3)
    assert got == {"a": [b"1", b"2", b"3"], "b": [b"1", b"2", b"3"]}
    assert {"fanout.a", "fanout.b"} <= set(broker.list_groups())


def test_parallelization_keeps_the_order_of_each_key(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    app = logway.App("parallel")
    per_key: dict[bytes, list[int]] = {}
    total = [0]

    @app.function(topic, batch_size=50, starting_position="earliest", parallelization_factor=4)
    def handle(batch: Batch) -> None:
        for r in batch:
            assert r.key is not None
            per_key.setdefault(r.key, []).append(int(r.value or b"0"))
        total[0] += len(batch)

    broker.produce_many(topic, [logway.Message(str(i), key=f"k{i % 7}") for i in range(200)])
    run_app(broker, app, until=lambda: total[0] == 200)
    assert len(per_key) == 7
    for key, numbers in per_key.items():
        assert numbers == sorted(numbers), key
        assert len(numbers) == len(set(numbers))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer from 1 to 10000"),
        ({"batching_window": "10m"}, "batching_window must be from 0 s to 300 s"),
        ({"max_batch_bytes": "7MB"}, "max_batch_bytes must be 1 B to 6 MB"),
        ({"retry_attempts": -1}, "retry_attempts must be an integer from 0 to 10000"),
        ({"max_record_age": 5}, "max_record_age must be from 60 s"),
        ({"parallelization_factor": 11}, "parallelization_factor must be an integer from 1"),
        ({"starting_position": "middle"}, "starting_position must be 'latest', 'earliest'"),
        ({"batchsize": 10}, "unknown function settings ['batchsize']"),
        ({"on_failure": "bad topic!"}, "topic"),
        ({"filters": [{"value": {"n": [{"numeric": [">"]}]}}]}, "numeric"),
        ({"tumbling_window": 901}, "tumbling_window must be from 1 s to 900 s"),
        ({"tumbling_window": 60, "report_item_failures": True}, "does not combine"),
        ({"workers": "fibers"}, "workers must be 'thread' or 'process'"),
        ({"min_workers": 3, "max_workers": 2}, "max_workers must be an integer from 3"),
    ],
)
def test_bad_settings_are_refused_when_the_app_is_declared(
    settings: dict[str, Any], message: str
) -> None:
    app = logway.App("bad")
    with pytest.raises(logway.errors.InvalidArgumentError, match=message.replace("[", "\\[")):
        app.function("t", **settings)(lambda batch: None)
    assert app.functions == []


def test_a_function_switched_off_and_on_keeps_its_position(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("switch")
    got: list[bytes | None] = []

    @app.function(topic, starting_position="earliest")
    def f(batch: Batch) -> None:
        got.extend(r.value for r in batch)

    runner = FunctionRunner(broker, app.name, app.functions[0])

    async def until(condition: Callable[[], bool]) -> None:
        end = time.monotonic() + DEADLINE
        while not condition():
            assert time.monotonic() < end, "the condition did not hold in time"
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(runner.run(stopping))
        await asyncio.to_thread(broker.produce_many, topic, [b"a", b"b"])
        await until(lambda: got == [b"a", b"b"])
        await asyncio.to_thread(control.set_enabled, broker, "switch.f", False)
        await until(lambda: runner.stats.state == "disabled" and not runner.status()["partitions"])
        await asyncio.to_thread(broker.produce, topic, b"while off")
        assert got == [b"a", b"b"]  # no lane runs while the function is off
        await asyncio.to_thread(control.set_enabled, broker, "switch.f", True)
        await until(lambda: got == [b"a", b"b", b"while off"])
        stopping.set()
        await task

    asyncio.run(scenario())
    assert broker.committed("switch.f", topic) == {logway.TopicPartition(topic, 0): 3}
    statuses = control.latest_status(broker)
    (status,) = [s for (name, _), s in statuses.items() if name == "switch.f"]
    assert status["state"] == "stopped" and status["records_in"] == 3
    assert status["invocations"] >= 2 and status["errors"] == 0


def note_in_a_file(batch: Batch) -> None:
    """A handler other processes can import (workers="process")."""
    for r in batch:
        with open(r.header("out") or b"", "a") as f:
            f.write(f"{os.getpid()} {r.offset} {(r.value or b'').decode()}\n")


def test_process_workers_run_the_handler_in_other_processes(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    broker.create_topic(topic)
    out = tmp_path / "notes.txt"
    app = logway.App("procs")
    app.function(topic, starting_position="earliest", workers="process")(note_in_a_file)
    broker.produce_many(
        topic, [logway.Message(f"v{i}", headers={"out": str(out)}) for i in range(5)]
    )
    run_app(broker, app, until=committed(broker, "procs.note_in_a_file", topic, 5))
    lines = [line.split() for line in out.read_text().splitlines()]
    assert [(int(o), v) for _, o, v in lines] == [(i, f"v{i}") for i in range(5)]
    assert {int(pid) for pid, _, _ in lines} != {os.getpid()}


def test_process_workers_need_an_importable_plain_function() -> None:
    app = logway.App("procs")
    with pytest.raises(logway.InvalidArgumentError, match="top of a module"):
        app.function("t", workers="process")(lambda batch: None)

    async def handler(batch: Batch) -> None:
        pass

    with pytest.raises(logway.InvalidArgumentError, match="not async ones"):
        app.function("t", workers="process")(handler)


def test_tumbling_windows_carry_state_and_end_with_a_final_invocation(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("windows")
    results: list[tuple[int, int, bool]] = []  # (window start, running sum, final)
    calls: list[list[int]] = []

    @app.function(topic, starting_position="earliest", batch_size=2, tumbling_window=60)
    def total(batch: Batch) -> dict[str, int]:
        assert batch.window is not None
        calls.append([r.offset for r in batch])
        running = batch.window.state.get("sum", 0) + sum(int(r.value or b"0") for r in batch)
        results.append((batch.window.start, running, batch.window.is_final))
        return {"sum": running}

    minute = 60_000
    base = (int(time.time() * 1000) // minute - 10) * minute  # ten minutes ago, aligned
    stamps = [base + 1, base + 2, base + 30_000, base + minute + 5, base + minute + 6]
    broker.produce_many(
        topic, [logway.Message(str(i + 1), timestamp=t) for i, t in enumerate(stamps)]
    )
    # the second window ends by the clock, as no later record comes to close it
    run_app(broker, app, until=lambda: sum(1 for r in results if r[2]) == 2)
    finals = [(start, total) for start, total, final in results if final]
    assert finals == [(base, 1 + 2 + 3), (base + minute, 4 + 5)]
    assert all(len(c) <= 2 for c in calls)
    assert [o for c in calls for o in c] == [0, 1, 2, 3, 4]  # finals hold no records
    assert broker.committed("windows.total", topic) == {logway.TopicPartition(topic, 0): 5}


def test_workers_stay_within_bounds_and_grow_with_the_lag(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic, partitions=4)
    app = logway.App("scaled")
    lock = threading.Lock()
    active, most, handled = [0], [0], [0]

    @app.function(topic, starting_position="earliest", batch_size=5, min_workers=1, max_workers=2)
    def work(batch: Batch) -> None:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.01)  # the handler's own work, so that the backlog lasts
        with lock:
            active[0] -= 1
            handled[0] += len(batch)

    for p in range(4):
        broker.produce_many(topic, [b"x"] * 250, partition=p)
    run_app(broker, app, until=lambda: handled[0] == 1000)
    assert most[0] == 2  # the lag raised it from one worker to the most allowed, never beyond
