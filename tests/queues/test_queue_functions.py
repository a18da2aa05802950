"""Functions on a queue (``app.function(..., queue=True)``): more lanes than partitions
share the records, a succeeding batch is acked, a failing one is retried and after
its attempts goes to the on_failure topic with the error as the reason."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import logway
from logway.errors import InvalidArgumentError
from logway.functions.batch import Batch
from logway.functions.runner import FunctionRunner

DEADLINE = 20.0


@pytest.fixture
def broker() -> Iterator[logway.Broker]:
    with logway.connect("memory:") as broker:
        broker.create_topic("jobs", partitions=1)
        yield broker


def run_until(runner: FunctionRunner, condition: Callable[[], bool]) -> None:
    async def scenario() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(runner.run(stopping))
        end = time.monotonic() + DEADLINE
        while not await asyncio.to_thread(condition):
            assert not task.done(), task.result()
            assert time.monotonic() < end, "the function did not get there in time"
            await asyncio.sleep(0.01)
        stopping.set()
        await task

    asyncio.run(scenario())


def test_four_lanes_on_one_partition_share_the_records_and_ack_them(
    broker: logway.Broker,
) -> None:
    app = logway.App("work")
    seen: list[bytes] = []
    threads: set[str] = set()
    lock = threading.Lock()
    busy = threading.Barrier(2, timeout=5)  # two batches run at once: more than partitions

    @app.function("jobs", queue=True, max_workers=4, batch_size=10, starting_position="earliest")
    def handle(batch: Batch) -> None:
        with lock:
            seen.extend(r.value or b"" for r in batch)
            threads.add(threading.current_thread().name)
            first = len(threads) <= 2 and len(seen) <= 20
        if first:
            try:
                busy.wait()
            except threading.BrokenBarrierError:
                pass

    broker.produce_many("jobs", [f"job-{i}".encode() for i in range(200)])
    runner = FunctionRunner(broker, app.name, app.functions[0])
    run_until(runner, lambda: len(seen) >= 200)
    assert sorted(seen) == sorted(f"job-{i}".encode() for i in range(200))
    assert len(threads) >= 2
    queue = broker.queue("jobs", "work.handle", start="earliest", max_receives=5)
    assert queue.receive(timeout=0.2) == []  # every record acked
    assert not busy.broken


def test_a_failing_record_is_retried_then_goes_to_on_failure(broker: logway.Broker) -> None:
    app = logway.App("work")
    attempts: list[int] = []

    @app.function(
        "jobs",
        queue=True,
        starting_position="earliest",
        retry_attempts=2,
        retry_backoff=0.01,
        on_failure="jobs-failed",
    )
    def handle(batch: Batch) -> None:
        if any(r.value == b"bad" for r in batch):
            attempts.append(len(batch))
            raise ValueError("cannot do it")

    broker.produce_many("jobs", [b"bad"])
    runner = FunctionRunner(broker, app.name, app.functions[0])

    def dead_lettered() -> bool:
        return "jobs-failed" in broker.list_topics() and broker.end_offsets("jobs-failed")[0] == 1

    run_until(runner, dead_lettered)
    assert attempts == [1, 1, 1]  # the first delivery and two retries
    [dead] = broker.fetch("jobs-failed", 0, 0)
    assert dead.value == b"bad"
    assert dead.header("logway.reason") == b"ValueError: cannot do it"
    assert runner.stats.records_dead_lettered == 1


def test_queue_refuses_settings_that_need_a_partitions_order() -> None:
    app = logway.App("work")
    for bad in (
        {"tumbling_window": "10s"},
        {"bisect_on_error": True},
        {"starting_position": 5},
        {"parallelization_factor": 2},
    ):
        with pytest.raises(InvalidArgumentError):
            app.function("jobs", queue=True, **bad)
    with pytest.raises(InvalidArgumentError):
        app.function("jobs", queue="yes")


def test_a_batch_outliving_its_visibility_timeout_runs_again_on_another_lane(
    broker: logway.Broker,
) -> None:
    app = logway.App("work")
    calls: list[str] = []
    again = threading.Event()

    @app.function(
        "jobs", queue=True, max_workers=2, starting_position="earliest", visibility_timeout="300ms"
    )
    def handle(batch: Batch) -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:  # held past its timeout, until the record runs again
            assert again.wait(DEADLINE)
        else:
            again.set()

    broker.produce("jobs", b"slow")
    runner = FunctionRunner(broker, app.name, app.functions[0])
    run_until(runner, lambda: len(calls) >= 2 and again.is_set())
    assert len(calls) == 2 and calls[0] != calls[1]
    queue = broker.queue("jobs", "work.handle")
    status = queue.status()
    assert status["in_flight"] == 0 and status["start_offsets"] == {0: 1}  # the second acked


def test_visibility_timeout_is_for_queues_and_checked() -> None:
    app = logway.App("work")
    with pytest.raises(InvalidArgumentError, match="queue=True"):
        app.function("jobs", visibility_timeout="5s")
    for bad in ("0s", "13h", "soon", -1):
        with pytest.raises(InvalidArgumentError, match="visibility_timeout"):
            app.function("jobs", queue=True, visibility_timeout=bad)
    app.function("jobs", queue=True, visibility_timeout=2.5)(lambda batch: None)
    assert app.functions[0].settings.visibility_timeout == 2.5  # a number is seconds


def test_item_failures_name_records_of_one_partition_only() -> None:
    """A batch from two partitions holds offset 0 twice; a failure reported for one
    record retries that record alone."""
    with logway.connect("memory:") as broker:
        broker.create_topic("jobs", partitions=2)
        app = logway.App("work")
        calls: list[list[bytes]] = []

        @app.function(
            "jobs",
            queue=True,
            batch_size=10,
            report_item_failures=True,
            retry_backoff="1ms",
            starting_position="earliest",
        )
        def handle(batch: Batch) -> dict[str, object]:
            calls.append([r.value or b"" for r in batch])
            bad = [r.offset for r in batch if r.value == b"p0-bad" and len(calls) <= 2]
            return {"batchItemFailures": [{"itemIdentifier": o} for o in bad]}

        broker.produce("jobs", b"p0-bad", partition=0)
        broker.produce("jobs", b"p1-good", partition=1)
        runner = FunctionRunner(broker, app.name, app.functions[0])
        run_until(runner, lambda: sum(len(c) for c in calls) >= 3)
        flat = [v for c in calls for v in c]
        assert flat.count(b"p1-good") == 1  # not taken for the failed offset 0 of partition 0
        assert flat.count(b"p0-bad") == 2
        assert all(len({v[:2] for v in c}) == 1 for c in calls)  # one partition per call
