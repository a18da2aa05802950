"""What a handler receives: a batch of records, grouped by topic-partition as the
Lambda Kafka event groups them (``records["orders-0"]``), in offset order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from logway.records import Record, TopicPartition


@dataclass
class Window:
    """A tumbling window (as Kinesis mappings have them): ``[start, end)`` in ms since
    the epoch, by record timestamp. ``state`` is what the handler returned last in this
    window ({} at its start); the last invocation of a window has ``is_final`` set and
    may hold no records: the moment to emit the window's result."""

    start: int
    end: int
    state: dict[str, Any] = field(default_factory=dict)
    is_final: bool = False


class Batch(Sequence[Record]):
    """The records of one invocation. Iterate it for every record in order, or use
    ``partitions`` for the records of each topic-partition."""

    def __init__(
        self,
        function: str,
        records: Sequence[Record],
        partition: TopicPartition | None = None,
        window: Window | None = None,
    ):
        self.function = function
        self.records = list(records)
        self.window = window  # with tumbling_window: the window and its state
        self._partitions: dict[TopicPartition, list[Record]] | None = (
            None if partition is None else {partition: self.records}
        )

    @property
    def partitions(self) -> dict[TopicPartition, list[Record]]:
        """The records of each topic-partition, in offset order."""
        if self._partitions is None:
            self._partitions = {}
            for r in self.records:
                self._partitions.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
        return self._partitions

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> list[Record]: ...
    def __getitem__(self, i: int | slice) -> Record | list[Record]:
        return self.records[i]

    def json(self) -> list[Any]:
        """Every value parsed as JSON."""
        return [r.json() for r in self.records]

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{tp.topic}-{tp.partition}: {rs[0].offset}..{rs[-1].offset}"
            for tp, rs in self.partitions.items()
        )
        return f"Batch({self.function!r}, {len(self.records)} records, {parts})"
