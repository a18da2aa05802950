"""In-process group membership: consumers of one group in this process share the
group's partitions and are reassigned whenever one joins or leaves (or a topic's
partitions change), as a Kafka group coordinator would do across processes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from logway.assignors import ASSIGNORS
from logway.records import TopicPartition


@dataclass
class _Group:
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    assignor: str = "range"
    generation: int = 0
    assignment: dict[str, list[TopicPartition]] = field(default_factory=dict)
    partition_counts: dict[str, int] = field(default_factory=dict)


class GroupCoordinator:
    def __init__(self, partition_count: Callable[[str], int]):
        self._partition_count = partition_count
        self._lock = threading.Lock()
        self._groups: dict[str, _Group] = {}

    def join(self, group: str, member: str, topics: Sequence[str], assignor: str) -> None:
        with self._lock:
            state = self._groups.setdefault(group, _Group(assignor=assignor))
            state.members[member] = tuple(topics)
            self._rebalance(state)

    def leave(self, group: str, member: str) -> None:
        with self._lock:
            state = self._groups.get(group)
            if state is None or member not in state.members:
                return
            del state.members[member]
            if state.members:
                self._rebalance(state)
            else:
                del self._groups[group]

    def assignment(self, group: str, member: str) -> tuple[int, list[TopicPartition]]:
        """The member's current ``(generation, partitions)``."""
        with self._lock:
            state = self._groups[group]
            counts = self._counts(state)
            if counts != state.partition_counts:
                self._rebalance(state)
            return state.generation, list(state.assignment.get(member, []))

    def members(self, group: str) -> list[str]:
        with self._lock:
            state = self._groups.get(group)
            return sorted(state.members) if state else []

    def _counts(self, state: _Group) -> dict[str, int]:
        topics = {t for ts in state.members.values() for t in ts}
        counts = {}
        for topic in topics:
            try:
                counts[topic] = self._partition_count(topic)
            except KeyError:  # deleted topic: nothing to assign
                counts[topic] = 0
        return counts

    def _rebalance(self, state: _Group) -> None:
        state.partition_counts = self._counts(state)
        state.assignment = ASSIGNORS[state.assignor](state.members, state.partition_counts)
        state.generation += 1
