"""In-process group membership: consumers of one group in this process share the
group's partitions and are reassigned whenever one joins or leaves (or a topic's
partitions change), as a Kafka group coordinator would do across processes.

A partition moves only once its previous owner has let it go, as in Kafka's eager
rebalance (revoke, then assign): a member's call of ``assignment`` says it no
longer uses the partitions that its previous call did not return, so a partition
taken from one member reaches the next only after the first asked again. A member
that does not ask within ``revoke_timeout`` seconds loses the partition anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from logway.assignors import ASSIGNORS
from logway.consumer import REVOKE_TIMEOUT_S
from logway.errors import InvalidArgumentError
from logway.records import TopicPartition


@dataclass
class _Group:
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    assignor: str = "range"
    assignment: dict[str, list[TopicPartition]] = field(default_factory=dict)  # the target
    partition_counts: dict[str, int] = field(default_factory=dict)
    owners: dict[TopicPartition, str] = field(default_factory=dict)  # who may use it now
    handed: dict[str, list[TopicPartition]] = field(default_factory=dict)  # last answers
    versions: dict[str, int] = field(default_factory=dict)
    revoked_at: float = 0.0  # when the target last changed


class GroupCoordinator:
    def __init__(
        self, partition_count: Callable[[str], int], revoke_timeout: float = REVOKE_TIMEOUT_S
    ):
        self._partition_count = partition_count
        self._revoke_timeout = revoke_timeout
        self._lock = threading.Lock()
        self._groups: dict[str, _Group] = {}
        self._held: set[str] = set()

    def join(self, group: str, member: str, topics: Sequence[str], assignor: str) -> None:
        with self._lock:
            if group in self._held:
                raise InvalidArgumentError(
                    f"consumer group {group!r} has Kafka clients as members (through the "
                    "server's Kafka port); logway consumers and Kafka clients cannot share "
                    "a group: use another group name, or wait until the Kafka clients leave"
                )
            state = self._groups.setdefault(group, _Group(assignor=assignor))
            state.members[member] = tuple(topics)
            self._rebalance(state)

    def leave(self, group: str, member: str) -> None:
        with self._lock:
            state = self._groups.get(group)
            if state is None or member not in state.members:
                return
            del state.members[member]
            state.handed.pop(member, None)
            state.versions.pop(member, None)
            state.owners = {tp: m for tp, m in state.owners.items() if m != member}
            if state.members:
                self._rebalance(state)
            else:
                del self._groups[group]

    def assignment(self, group: str, member: str) -> tuple[int, list[TopicPartition]]:
        """The member's ``(version, partitions)``: what its target assignment holds,
        less partitions another member has not let go of yet. The version changes
        whenever the partitions do."""
        with self._lock:
            state = self._groups[group]
            counts = self._counts(state)
            if counts != state.partition_counts:
                self._rebalance(state)
            before = state.handed.get(member, [])
            for tp, owner in list(state.owners.items()):  # let go of what it no longer has
                if owner == member and tp not in before:
                    del state.owners[tp]
            overdue = time.monotonic() - state.revoked_at > self._revoke_timeout
            now = []
            for tp in state.assignment.get(member, []):
                holder = state.owners.get(tp)
                if holder is None or holder == member or overdue:
                    state.owners[tp] = member
                    now.append(tp)
            if now != before or member not in state.versions:
                state.versions[member] = state.versions.get(member, 0) + 1
            state.handed[member] = now
            return state.versions[member], list(now)

    def hold(self, group: str) -> bool:
        """Keep ``group`` for members managed elsewhere; False (and not held) while it
        has members here."""
        with self._lock:
            state = self._groups.get(group)
            if state is not None and state.members:
                return False
            self._held.add(group)
            return True

    def release(self, group: str) -> None:
        with self._lock:
            self._held.discard(group)

    def held(self, group: str) -> bool:
        with self._lock:
            return group in self._held

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
        state.revoked_at = time.monotonic()
