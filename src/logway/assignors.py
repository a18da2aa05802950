"""Partition assignment among the members of a consumer group, as Kafka's
``RangeAssignor`` (per topic, contiguous ranges, the first members taking one
extra when it does not divide) and ``RoundRobinAssignor`` (all partitions in
order dealt to the members subscribed to their topic)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from logway.errors import InvalidArgumentError
from logway.records import TopicPartition

Subscriptions = Mapping[str, Sequence[str]]  # member id -> topics


def range_assign(
    members: Subscriptions, partitions: Mapping[str, int]
) -> dict[str, list[TopicPartition]]:
    out: dict[str, list[TopicPartition]] = {m: [] for m in members}
    for topic in sorted(partitions):
        subscribed = sorted(m for m, topics in members.items() if topic in topics)
        if not subscribed:
            continue
        per, extra = divmod(partitions[topic], len(subscribed))
        start = 0
        for i, member in enumerate(subscribed):
            n = per + (1 if i < extra else 0)
            out[member].extend(TopicPartition(topic, p) for p in range(start, start + n))
            start += n
    return out


def round_robin_assign(
    members: Subscriptions, partitions: Mapping[str, int]
) -> dict[str, list[TopicPartition]]:
    out: dict[str, list[TopicPartition]] = {m: [] for m in members}
    ordered = sorted(members)
    if not ordered:
        return out
    i = 0
    for topic in sorted(partitions):
        for p in range(partitions[topic]):
            for _ in range(len(ordered)):  # skip members not subscribed to this topic
                member = ordered[i % len(ordered)]
                i += 1
                if topic in members[member]:
                    out[member].append(TopicPartition(topic, p))
                    break
    return out


ASSIGNORS = {"range": range_assign, "roundrobin": round_robin_assign}


def assignor(name: str) -> str:
    if name not in ASSIGNORS:
        raise InvalidArgumentError(f"unknown assignor {name!r}; use one of {', '.join(ASSIGNORS)}")
    return name
