"""Metadata (API 3): one broker, the leader of every partition of every topic.

Topics are not created by a Metadata request unless the listener was started with
automatic creation on (Kafka's ``auto.create.topics.enable``, off here by default)
and the client allows it.

With authentication on, as Kafka's ``KafkaApis.handleTopicMetadataRequest``: a list of
all topics leaves out those the caller may not describe, silently; a topic asked for
by name that the caller may not describe is answered TOPIC_AUTHORIZATION_FAILED
whether or not it exists (its existence is not told), and so is one that would be
created automatically when the caller may create neither on the cluster nor that topic.
"""

from __future__ import annotations

import uuid
from typing import Any

from kio.schema.errors import ErrorCode

from logway import errors
from logway.server.kafka import permissions, wire
from logway.server.kafka.door import Door
from logway.server.kafka.errors import code_for

METADATA = 3
TOPIC, CLUSTER, CLUSTER_NAME = permissions.TOPIC, permissions.CLUSTER, permissions.CLUSTER_NAME
DESCRIBE, CREATE = permissions.DESCRIBE, permissions.CREATE
NO_AUTHORIZED_OPERATIONS = -(2**31)  # "not asked for" in Kafka's schema
NO_TOPIC_ID = uuid.UUID(int=0)  # Kafka's Uuid.ZERO_UUID: a refused topic's id is not told


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


async def _authorized_topics(
    door: Door, names: list[str] | None, create: bool
) -> list[tuple[str, ErrorCode, int]]:
    """``_topics`` as the caller may see them."""
    if names is None:
        found = await door.run(_topics, door, None, False)
        return [f for f in found if permissions.visible(door, DESCRIBE, TOPIC, f[0])]
    denied = permissions.refused(door, DESCRIBE, TOPIC, names)
    allowed = [n for n in names if n not in denied]
    if create and allowed and not permissions.visible(door, CREATE, CLUSTER, CLUSTER_NAME):
        existing = set(await door.run(door.broker.list_topics))
        missing = [n for n in allowed if n not in existing]
        denied |= permissions.refused(door, CREATE, TOPIC, missing)
        allowed = [n for n in allowed if n not in denied]
    found = await door.run(_topics, door, allowed, create) if allowed else []
    refused = ErrorCode.topic_authorization_failed
    return found + [(n, refused, 0) for n in names if n in denied]


async def handle_metadata(door: Door, version: int, request: Any) -> Any:
    asked = request.topics
    if asked is None or (version == 0 and not asked):
        names = None
    else:
        names = [t.name for t in asked if t.name is not None]
    create = door.auto_create_topics and getattr(request, "allow_auto_topic_creation", True)
    if door.secured:
        found = await _authorized_topics(door, names, create)
    else:
        found = await door.run(_topics, door, names, create)
    node = door.node
    k = METADATA
    refused = ErrorCode.topic_authorization_failed
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
            topic_id=NO_TOPIC_ID if error == refused else node.topic_id(name),
            # logway's own, as Kafka marks its own
            is_internal=name.startswith("__") and error != refused,
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
