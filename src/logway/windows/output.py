"""Exactly-once results of a stateful job: ``NumberedOutput``, and reading a topic backwards.

A job whose results follow from its input in a fixed order (a window or a continuous
query replayed from its checkpoint) numbers its final results as it produces them
(header ``logway.window.seq``) and checkpoints the next number beside its state. After
a crash it restarts from the checkpoint, makes the same results in the same order, and
skips every number the output already holds: a result is stored exactly once. Runs of
consecutive results for one partition go in one append each, so what a crash leaves
stored is always a prefix of the sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from logway.broker import Broker
from logway.jobs import newest
from logway.partitioner import partition_for_key
from logway.records import Message, Record

SEQ_HEADER = "logway.window.seq"
JOB_HEADER = "logway.window"


class NumberedOutput:
    """The results of the job ``job`` produced to ``topic``, final ones numbered."""

    def __init__(self, broker: Broker, topic: str, job: str):
        self.broker = broker
        self.topic = topic
        self.job = job.encode()
        self.seq = 0  # the number of the next final result (checkpoint it with the state)
        self.emitted_upto = -1  # the highest number the output held at the start
        self.partitions = 1
        self.produced = 0

    def start(self) -> None:
        """Look at the output once before producing (after restoring ``seq``)."""
        self.partitions = len(self.broker.start_offsets(self.topic))
        found = -1
        mine = newest(self.broker, self.topic, lambda r: r.header(JOB_HEADER) == self.job)
        for _, record in mine:
            number = record.header(SEQ_HEADER)
            if number is not None:
                found = max(found, int(number))
        self.emitted_upto = found

    def emit(self, results: Sequence[tuple[bytes | None, bytes, int, bool]]) -> int:
        """Produce ``(key, value, timestamp, final)`` results in order; a final one whose
        number the output already held at the start is skipped. Returns how many were
        produced."""
        runs: list[tuple[int, list[Message]]] = []
        count = self.partitions
        for key, value, timestamp, final in results:
            headers: tuple[tuple[str, bytes], ...] = ((JOB_HEADER, self.job),)
            if final:
                number, self.seq = self.seq, self.seq + 1
                if number <= self.emitted_upto:
                    continue  # produced before the crash this run restarted from
                headers += ((SEQ_HEADER, str(number).encode()),)
            message = Message(value, key, headers, None, timestamp)
            partition = 0 if key is None or count == 1 else partition_for_key(key, count)
            if runs and runs[-1][0] == partition:
                runs[-1][1].append(message)
            else:
                runs.append((partition, [message]))
        produced = 0
        for partition, messages in runs:
            self.broker.produce_many(self.topic, messages, partition=partition)
            produced += len(messages)
        self.produced += produced
        return produced


def aside(
    broker: Broker, topic: str, record: Record, reason: str, job: str, *extra: tuple[str, Any]
) -> None:
    """Produce ``record`` as it is to ``topic`` (a late or error topic) with where it came
    from and why in headers."""
    headers = (
        *record.headers,
        ("logway.source.topic", record.topic.encode()),
        ("logway.source.partition", str(record.partition).encode()),
        ("logway.source.offset", str(record.offset).encode()),
        ("logway.reason", reason.encode()),
        (JOB_HEADER, job.encode()),
        *((k, str(v).encode()) for k, v in extra),
    )
    broker.produce(topic, record.value, record.key, headers, None, record.timestamp)
