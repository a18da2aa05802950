"""Backend-neutral ways to read a consumer in tests: records arrive when they
arrive (a remote or Kafka consumer streams them), so tests wait for a condition
with a deadline instead of expecting them on the first poll."""

from __future__ import annotations

import time

import logway

DEADLINE = 30.0


def take(consumer: logway.Consumer, count: int, deadline: float = DEADLINE) -> list[logway.Record]:
    """Exactly ``count`` records (fails if they do not come in time)."""
    out: list[logway.Record] = []
    end = time.monotonic() + deadline
    while len(out) < count and time.monotonic() < end:
        out.extend(consumer.poll(timeout=1.0, max_records=count - len(out)))
    assert len(out) == count, f"got {len(out)} of {count} records within {deadline}s"
    return out


def drain(consumer: logway.Consumer, broker: logway.Broker) -> list[logway.Record]:
    """Everything up to the end offsets as they are now, for the consumer's partitions."""
    out: list[logway.Record] = []
    end = time.monotonic() + DEADLINE
    targets: dict[logway.TopicPartition, int] = {}
    while time.monotonic() < end:
        assignment = consumer.assignment()
        for tp in assignment:
            if tp not in targets:
                targets[tp] = broker.end_offsets(tp.topic)[tp.partition]
        position = consumer.position()
        if all(position[tp] >= targets[tp] for tp in assignment):
            return out
        out.extend(consumer.poll(timeout=1.0, max_records=1000))
    raise AssertionError(f"did not reach the end offsets within {DEADLINE}s")


def settle(condition: object, deadline: float = DEADLINE) -> None:
    """Wait until ``condition()`` holds: group rebalances complete asynchronously on
    some backends. The condition asks consumers for their assignment, which is how
    they learn of a rebalance; nothing is read, so no record is taken."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)  # re-check a condition, not a guess at how long anything takes
    raise AssertionError(f"the group did not settle within {deadline}s")
