"""The embedded backend's consumer: fetches from the log at its own positions and
waits for appends through partition listeners (no polling)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from logway.broker import DEFAULT_MAX_BYTES, Start
from logway.consumer import BaseConsumer
from logway.errors import OffsetOutOfRangeError
from logway.records import Record, TopicPartition

if TYPE_CHECKING:
    from logway.backends.embedded import EmbeddedBroker


class EmbeddedConsumer(BaseConsumer):
    def __init__(
        self,
        broker: EmbeddedBroker,
        topics: Sequence[str],
        group: str | None,
        start: Start,
        idle_timeout: float | None,
        assignor: str,
        manual: list[TopicPartition] | None = None,
        auto_reset: bool = True,
    ):
        super().__init__(broker, topics, group, start, idle_timeout, manual, auto_reset)
        self._embedded = broker
        self._member = f"consumer-{uuid.uuid4().hex[:12]}"
        self._generation = -1
        self._next = 0  # round-robin start among partitions, for fairness
        self._listening: list[TopicPartition] = []
        if group is not None and manual is None:
            broker._coordinator.join(group, self._member, self._topics, assignor)
        self._refresh_assignment()

    def _refresh_assignment(self) -> None:
        broker = self._embedded
        if self._group is None or self._manual is not None:
            if self._generation >= 0:
                return
            assigned = self._manual or [
                TopicPartition(t, p) for t in self._topics for p in range(broker._count(t))
            ]
            generation = 0
        else:
            generation, assigned = broker._coordinator.assignment(self._group, self._member)
            if generation == self._generation:
                return
        self._assign(assigned)
        self._generation = generation
        self._listen(assigned)

    def _listen(self, assigned: list[TopicPartition]) -> None:
        for tp in self._listening:
            self._embedded._remove_listener(tp, self._notify)
        self._listening = []
        for tp in assigned:
            self._embedded._add_listener(tp, self._notify)
            self._listening.append(tp)

    def _take_available(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        n = len(self._assigned)
        for k in range(n):
            if len(out) >= max_records:
                break
            tp = self._assigned[(self._next + k) % n]
            pos = self._positions[tp]
            try:
                records = self._broker.fetch(
                    tp.topic, tp.partition, pos, max_records - len(out), DEFAULT_MAX_BYTES
                )
            except OffsetOutOfRangeError:
                if not self._auto_reset:
                    raise
                self._positions[tp] = self._embedded._reset_position(tp, pos, self._start)
                continue
            if records:
                out.extend(records)
                self._positions[tp] = records[-1].offset + 1
        self._next = (self._next + 1) % max(n, 1)
        return out

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        self._embedded._log.partition(tp.topic, tp.partition).check_offset(offset)

    def _close(self) -> None:
        for tp in self._listening:
            self._embedded._remove_listener(tp, self._notify)
        self._listening = []
        if self._group is not None and self._manual is None:
            self._embedded._coordinator.leave(self._group, self._member)
        self._embedded._consumers.discard(self)
