"""What a running function reports: its state as it is now (running, retrying,
blocked, disabled), in its status and in its log."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import logway
from logway.functions import control
from logway.functions.batch import Batch
from logway.functions.runner import FunctionRunner

DEADLINE = 30.0
FAST_RETRY = {"retry_backoff": 0.01, "retry_backoff_max": 0.05}


@pytest.fixture
def broker() -> Iterator[logway.Broker]:
    with logway.connect("memory:") as broker:
        broker.create_topic("orders")
        yield broker


def run_until(runner: FunctionRunner, *steps: Callable[[], bool]) -> None:
    """Run the function until each condition held in turn (each with a deadline),
    then stop it the way SIGTERM does."""

    async def scenario() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(runner.run(stopping))
        for step in steps:
            end = time.monotonic() + DEADLINE
            while not await asyncio.to_thread(step):
                assert not task.done(), task.result()
                assert time.monotonic() < end, f"{step.__doc__ or step} did not hold in time"
                await asyncio.sleep(0.01)  # the runner works meanwhile
        stopping.set()
        await task

    asyncio.run(scenario())


def published_states(broker: logway.Broker, function: str) -> list[str]:
    statuses, _ = control.read_all(broker, control.STATUS_TOPIC)
    return [s["state"] for key, s in statuses if key == function]


def test_state_is_running_again_once_the_failed_record_went_to_on_failure(
    broker: logway.Broker,
) -> None:
    app = logway.App("shop")

    @app.function(
        "orders",
        starting_position="earliest",
        retry_attempts=1,
        retry_backoff=1.0,  # long enough for the runner to report the retry
        on_failure="orders-failed",
    )
    def ship(batch: Batch) -> None:
        if any(r.value == b"bad" for r in batch):
            raise ValueError("cannot ship")

    broker.produce_many("orders", [b"bad"])
    runner = FunctionRunner(broker, app.name, app.functions[0])

    def retrying() -> bool:
        """the function reported retrying"""
        return published_states(broker, "shop.ship")[-1:] == ["retrying"]

    def dead_lettered() -> bool:
        """the record went to on_failure and was committed"""
        done = broker.committed("shop.ship", "orders").get(logway.TopicPartition("orders", 0))
        return done == 1 and broker.end_offsets("orders-failed")[0] == 1

    def running() -> bool:
        """the function reported running"""
        return published_states(broker, "shop.ship")[-1:] == ["running"]

    run_until(runner, retrying, dead_lettered, running)
    assert published_states(broker, "shop.ship")[-2:] == ["running", "stopped"]


def test_a_blocked_partition_that_recovers_reports_running(broker: logway.Broker) -> None:
    app = logway.App("shop")
    broken = threading.Event()
    broken.set()

    @app.function("orders", starting_position="earliest", retry_attempts=0, **FAST_RETRY)
    def ship(batch: Batch) -> None:
        if broken.is_set():
            raise ConnectionError("the warehouse is down")

    broker.produce_many("orders", [b"a"])
    runner = FunctionRunner(broker, app.name, app.functions[0])

    def blocked() -> bool:
        """the function reported blocked"""
        return published_states(broker, "shop.ship")[-1:] == ["blocked"]

    def recovered() -> bool:
        """the warehouse is back and the function reported running"""
        broken.clear()
        return published_states(broker, "shop.ship")[-1:] == ["running"]

    run_until(runner, blocked, recovered)
    assert broker.committed("shop.ship", "orders") == {logway.TopicPartition("orders", 0): 1}


def _switch_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "logway.functions"
        and ("enabled" in r.getMessage() or "disabled" in r.getMessage())
    ]


@pytest.mark.parametrize(
    ("history", "first"),
    [
        ([False, True], "shop.ship: enabled"),
        (
            [True, False, True, False],
            "shop.ship: disabled; logway functions enable shop.ship starts it",
        ),
    ],
)
def test_the_switch_state_is_logged_once_at_start_then_once_per_change(
    broker: logway.Broker,
    caplog: pytest.LogCaptureFixture,
    history: list[bool],
    first: str,
) -> None:
    app = logway.App("shop")
    shipped: list[bytes | None] = []

    @app.function("orders", starting_position="earliest")
    def ship(batch: Batch) -> None:
        shipped.extend(r.value for r in batch)

    for enabled in history:  # commands given before this process started
        control.set_enabled(broker, "shop.ship", enabled)
    broker.produce_many("orders", [b"a"])
    runner = FunctionRunner(broker, app.name, app.functions[0])

    def reported_start() -> bool:
        """the runner reported its first status"""
        return bool(published_states(broker, "shop.ship"))

    def switched_on_and_shipped() -> bool:
        """the function is on and shipped the record"""
        if control.latest_commands(broker)["shop.ship"] is False:
            control.set_enabled(broker, "shop.ship", True)
        return shipped == [b"a"]

    with caplog.at_level(logging.INFO, logger="logway.functions"):
        run_until(runner, reported_start, switched_on_and_shipped)
    expected = [first] if history[-1] else [first, "shop.ship: enabled"]
    assert _switch_lines(caplog) == expected


def test_a_bad_record_bisected_out_of_a_batch_logs_one_traceback_and_few_lines(
    broker: logway.Broker, caplog: pytest.LogCaptureFixture
) -> None:
    app = logway.App("shop")

    @app.function(
        "orders",
        batch_size=64,
        starting_position="earliest",
        retry_attempts=2,
        bisect_on_error=True,
        on_failure="orders-failed",
        **FAST_RETRY,
    )
    def ship(batch: Batch) -> None:
        for r in batch:
            if r.value == b"bad":
                raise ValueError(f"cannot ship offset {r.offset}")

    values = [b"ok"] * 64
    values[37] = b"bad"
    broker.produce_many("orders", values)
    runner = FunctionRunner(broker, app.name, app.functions[0])

    def done() -> bool:
        """every record was handled or dead-lettered, and committed"""
        return broker.committed("shop.ship", "orders").get(logway.TopicPartition("orders", 0)) == 64

    with caplog.at_level(logging.INFO, logger="logway.functions"):
        run_until(runner, done)
    assert [r.value for r in broker.fetch("orders-failed", 0, 0)] == [b"bad"]
    messages = [r.getMessage() for r in caplog.records if r.name == "logway.functions"]
    text = "\n".join(messages)
    assert text.count("Traceback") == 1 and "During handling" not in text
    splits = [m for m in messages if "; split into" in m]
    # 64 -> 32 -> 16 -> 8 -> 4 -> 2 -> 1: one short line per step that failed
    assert len(splits) == 6 and all("\n" not in m for m in splits[1:])
    assert "offsets 0..63 failed (attempt 1): ValueError: cannot ship offset 37" in splits[0]
    trace = splits[0].splitlines()[1:]
    assert 'raise ValueError(f"cannot ship offset {r.offset}")' in trace[-2]
    assert len(trace) <= 6  # the handler's frames, not the runner's
    assert len(text.splitlines()) <= 20
