"""Metadata (API 3): one broker, the leader of every partition of every topic.

Topics are not created by a Metadata request unless the listener was started with
automatic creation on (Kafka's ``auto.create.topics.enable``, off here by default)
and the client allows it.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from logway import errors
from logway.server.kafka import wire
from logway.server.kafka.door import Door
from logway.server.kafka.errors import code_for

METADATA = 3
NO_AUTHORIZED_OPERATIONS = -(2**31)  # "not asked for" in Kafka's schema


def _topics(door: Door, names: list[str] | None, create: bool) -> list[tuple[str, ErrorCode, int]]:
    broker = door.broker
    if names is None:
        names = sorted(n for n in broker.list_topics())
    out = []
    for name in names:
        try:
            out.append((name, ErrorCode.none, broker.describe_topic(name).partitions))
        except errors.UnknownTopicError:
            if create:
                try:
                    broker.create_topic(name)
                    out.append((name, ErrorCode.leader_not_available, 0))
                    continue
                except errors.TopicExistsError:  # created meanwhile
                    out.append((name, ErrorCode.none, broker.describe_topic(name).partitions))
                    continue
                except Exception as exc:
                    out.append((name, code_for(exc), 0))
                    continue
            out.append((name, ErrorCode.unknown_topic_or_partition, 0))
        except Exception as exc:
            out.append((name, code_for(exc), 0))
    return out


async def handle_metadata(door: Door, version: int, request: Any) -> Any:
    asked = request.topics
    if asked is None or (version == 0 and not asked):
        names = None
    else:
        names = [t.name for t in asked if t.name is not None]
    create = door.auto_create_topics and getattr(request, "allow_auto_topic_creation", True)
    found = await door.run(_topics, door, names, create)
    node = door.node
    k = METADATA
    brokers = (
        wire.make(
            k,
            version,
            "MetadataResponseBroker",
            node_id=node.node_id,
            host=node.host,
            port=node.port,
            rack=None,
        ),
    )
    topics = tuple(
        wire.make(
            k,
            version,
            "MetadataResponseTopic",
            error_code=error,
            name=name,
            topic_id=node.topic_id(name),
            is_internal=name.startswith("__"),  # logway's own, as Kafka marks its own
            partitions=tuple(
                wire.make(
                    k,
                    version,
                    "MetadataResponsePartition",
                    error_code=ErrorCode.none,
                    partition_index=p,
                    leader_id=node.node_id,
                    leader_epoch=-1,
                    replica_nodes=(node.node_id,),
                    isr_nodes=(node.node_id,),
                    offline_replicas=(),
                )
                for p in range(count)
            ),
            topic_authorized_operations=NO_AUTHORIZED_OPERATIONS,
        )
        for name, error, count in found
    )
    return wire.make(
        k,
        version,
        "MetadataResponse",
        throttle_time=wire.NO_THROTTLE,
        brokers=brokers,
        cluster_id=node.cluster_id,
        controller_id=node.node_id,
        topics=topics,
    )
