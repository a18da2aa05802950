"""Idempotent producers: producer ids, and per partition the sequence numbers of each
producer's last batches, so a batch the client retried is not stored twice.

Kafka's rules (ProducerStateManager): a producer id comes with an epoch; per
partition the broker keeps the last five batches' sequence ranges and offsets. A
batch whose range is one of them is a duplicate: it is acknowledged with the offset
it got the first time and not written again. A batch must otherwise begin at the
last sequence + 1 (wrapping at 2^31), or at 0 for a new epoch; anything else is
OUT_OF_ORDER_SEQUENCE_NUMBER. An older epoch is INVALID_PRODUCER_EPOCH (fenced).

The state lives in memory: after a restart a producer's first batch on a partition
is taken at whatever sequence it has, as Kafka does for a producer whose state has
expired. Producer ids are drawn from the clock, so they do not repeat across
restarts.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from kio.schema.errors import ErrorCode

KEPT_BATCHES = 5  # Kafka keeps this many (max.in.flight.requests.per.connection <= 5)
SEQUENCE_WRAP = 1 << 31


@dataclass
class _Producer:
    epoch: int
    # (first sequence, last sequence, base offset) of the last batches, oldest first
    batches: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=KEPT_BATCHES))


class ProducerTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_id = itertools.count(int(time.time() * 1000) << 8)
        self._epochs: dict[int, int] = {}
        self._state: dict[tuple[str, int, int], _Producer] = {}

    def new_producer(self, producer_id: int = -1, epoch: int = -1) -> tuple[int, int]:
        """InitProducerId: a fresh id at epoch 0, or the same id at the next epoch when
        the client asks to keep its id (KIP-360) with the epoch it has."""
        with self._lock:
            if producer_id >= 0 and self._epochs.get(producer_id) == epoch:
                self._epochs[producer_id] = epoch + 1
                return producer_id, epoch + 1
            pid = next(self._next_id)
            self._epochs[pid] = 0
            return pid, 0

    def check(
        self, topic: str, partition: int, producer_id: int, epoch: int, first: int, count: int
    ) -> tuple[ErrorCode, int | None]:
        """Before appending a batch: ``(none, None)`` to write it, ``(none, offset)``
        for a duplicate already stored at ``offset``, or the error to answer."""
        with self._lock:
            known = self._epochs.get(producer_id)
            if known is not None and epoch < known:
                return ErrorCode.invalid_producer_epoch, None
            state = self._state.get((topic, partition, producer_id))
            if state is None or epoch > state.epoch:
                return ErrorCode.none, None
            last = (first + count - 1) % SEQUENCE_WRAP
            for lo, hi, offset in state.batches:
                if lo == first and hi == last:
                    return ErrorCode.none, offset
            if state.batches:
                expected = (state.batches[-1][1] + 1) % SEQUENCE_WRAP
                if first != expected:
                    if any(lo <= first <= hi for lo, hi, _ in state.batches):
                        return ErrorCode.duplicate_sequence_number, None
                    return ErrorCode.out_of_order_sequence_number, None
            return ErrorCode.none, None

    def appended(
        self,
        topic: str,
        partition: int,
        producer_id: int,
        epoch: int,
        first: int,
        count: int,
        offset: int,
    ) -> None:
        with self._lock:
            key = (topic, partition, producer_id)
            state = self._state.get(key)
            if state is None or epoch > state.epoch:
                state = self._state[key] = _Producer(epoch)
            state.batches.append((first, (first + count - 1) % SEQUENCE_WRAP, offset))
            self._epochs.setdefault(producer_id, epoch)

    def forget_topic(self, topic: str) -> None:
        with self._lock:
            for key in [k for k in self._state if k[0] == topic]:
                del self._state[key]
