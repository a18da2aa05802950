"""Kafka's admin APIs over ``Broker``: CreateTopics (19), DeleteTopics (20),
DescribeConfigs (32) and CreatePartitions (37), answered as Kafka's controller does
(``ControllerApis``, ``ReplicationControlManager``, ``ConfigHelper``) for a cluster of
one node, id 1.

- One node: a replication factor of 1 (or -1, the default) is accepted, more is
  INVALID_REPLICATION_FACTOR; a manual replica assignment must put every partition on
  node 1 alone.
- Topic settings go by Kafka's names (``retention.ms``, ``compression.type``,
  ``message.timestamp.type``, ...), as ``logway.topic_settings`` maps them. Settings
  logway has but cannot change (``cleanup.policy=delete``, ``min.insync.replicas=1``)
  are accepted with that value only; anything else, or a value logway refuses, is
  INVALID_CONFIG with the reason.
- ``compression.type``: Kafka-client batches arriving at this port are stored as sent,
  which is Kafka's ``producer``; a topic compressed with a codec compresses what
  logway's own producers write. So logway's ``none`` reads as ``producer``, and
  ``producer`` (or ``uncompressed``) at creation is logway's default.
- ``key.schema.subject`` / ``value.schema.subject`` name the schema registry subjects
  a topic's keys / values must hold to (``logway.schemas`` checks them); unset, they
  are described with a null value, and no broker setting stands behind them.
- A setting is described as DYNAMIC_TOPIC_CONFIG when its value differs from logway's
  default (the one it was created with, then), else DEFAULT_CONFIG.
- Bad input answers the error and changes nothing stored; ``validate_only`` checks a
  request as a real one would be checked and changes nothing either.
- With authentication on, as Kafka's controller (``ControllerApis``, ``ConfigHelper``):
  CreateTopics needs CREATE on the cluster or on the topic (else
  TOPIC_AUTHORIZATION_FAILED) and answers a new topic's settings only to a caller
  allowed DESCRIBE_CONFIGS on it; DeleteTopics needs DELETE on the cluster, or DESCRIBE
  and DELETE on the topic (a topic one may not describe is TOPIC_AUTHORIZATION_FAILED,
  existing or not); CreatePartitions needs ALTER on the topic; DescribeConfigs needs
  DESCRIBE_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED) or on the cluster for the
  node (CLUSTER_AUTHORIZATION_FAILED). A refused topic changes nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from kio.schema.errors import ErrorCode

from logway import errors
from logway.broker import add_partitions, can_add_partitions
from logway.names import validate_topic_name
from logway.server.kafka import permissions, wire
from logway.server.kafka.door import Door
from logway.server.kafka.errors import code_for
from logway.topic_settings import KAFKA_ALIASES, convert_setting, kafka_value

Handler = Callable[[Door, int, Any], Awaitable[Any]]

CREATE_TOPICS = 19
DELETE_TOPICS = 20
DESCRIBE_CONFIGS = 32
CREATE_PARTITIONS = 37
TOPIC_RESOURCE = 2  # Kafka's ConfigResource.Type
BROKER_RESOURCE = 4
DEFAULT_PARTITIONS = 1  # Kafka's num.partitions
ONE_NODE = "logway is one node (id 1): every partition has one replica"
NO_TOPIC_ID = uuid.UUID(int=0)  # Kafka's Uuid.ZERO_UUID, in answers about no topic
TOPIC, CLUSTER, CLUSTER_NAME = permissions.TOPIC, permissions.CLUSTER, permissions.CLUSTER_NAME
DESCRIBE_CONFIGS_OP = permissions.DESCRIBE_CONFIGS
NO_NAMES: Set[str] = frozenset()


class Source(IntEnum):
    """Kafka's DescribeConfigsResponse config_source."""

    DYNAMIC_TOPIC_CONFIG = 1
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5


class Kind(IntEnum):
    """Kafka's DescribeConfigsResponse config_type (v3+)."""

    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    LIST = 7


@dataclass(frozen=True)
class Setting:
    """A topic setting in Kafka's name: logway's default in Kafka's notation, logway's
    own name for it (None: a fixed value, accepted at creation only as that value), and
    the broker setting Kafka derives its default from (its synonym; None: none, and no
    default value either)."""

    name: str
    default: str | None
    kind: Kind
    ours: str | None
    synonym: str | None

    @property
    def doc(self) -> str:
        return DOCS[self.name]


WEEK_MS = str(7 * 86_400_000)
TOPIC_SETTINGS = (
    Setting("cleanup.policy", "delete", Kind.LIST, None, "log.cleanup.policy"),
    Setting("compression.type", "producer", Kind.STRING, "compression", "compression.type"),
    Setting(
        "index.interval.bytes", "4096", Kind.INT, "index_interval_bytes", "log.index.interval.bytes"
    ),
    Setting("max.message.bytes", str(1 << 20), Kind.INT, "max_record_bytes", "message.max.bytes"),
    Setting(
        "message.timestamp.type",
        "CreateTime",
        Kind.STRING,
        "timestamp_type",
        "log.message.timestamp.type",
    ),
    Setting("min.insync.replicas", "1", Kind.INT, None, "min.insync.replicas"),
    Setting("retention.bytes", "-1", Kind.LONG, "retention_bytes", "log.retention.bytes"),
    Setting("retention.ms", WEEK_MS, Kind.LONG, "retention_ms", "log.retention.ms"),
    Setting("segment.bytes", str(1 << 30), Kind.INT, "segment_bytes", "log.segment.bytes"),
    Setting("segment.ms", WEEK_MS, Kind.LONG, "segment_ms", "log.roll.ms"),
    Setting("key.schema.subject", None, Kind.STRING, "key_schema", None),
    Setting("value.schema.subject", None, Kind.STRING, "value_schema", None),
)
DOCS = {
    "cleanup.policy": "Old segments are deleted by retention; logway does not compact.",
    "compression.type": "The codec of batches logway's producers write; Kafka clients' "
    "batches are kept as sent.",
    "index.interval.bytes": "Bytes of batches between entries of the offset index.",
    "max.message.bytes": "The largest record batch a topic takes.",
    "message.timestamp.type": "CreateTime: records keep the timestamp their producer gave "
    "them; LogAppendTime: the log stamps each batch as it stores it.",
    "min.insync.replicas": "One node, one replica: acks=all is met once a record is stored.",
    "retention.bytes": "Per partition, the size beyond which the oldest segments are "
    "deleted; -1 keeps all.",
    "retention.ms": "How long records are kept; -1 keeps them forever.",
    "segment.bytes": "The size at which a partition starts a new segment file.",
    "segment.ms": "The age at which a partition starts a new segment file.",
    "key.schema.subject": "The schema registry subject every key must be framed with "
    "(Confluent's wire format) and decode by; unset: keys are not checked.",
    "value.schema.subject": "The schema registry subject every value must be framed with "
    "(Confluent's wire format) and decode by; unset: values are not checked.",
    "auto.create.topics.enable": "Whether Metadata creates a topic it is asked about "
    "(--kafka-auto-create-topics).",
    "broker.id": "The node's id.",
    "delete.topic.enable": "Topics can be deleted.",
    "num.partitions": "The partitions of a topic created without a count.",
    "one node": f"{ONE_NODE}.",
}
SETTINGS_BY_NAME = {s.name: s for s in TOPIC_SETTINGS}


class Refused(Exception):
    """A request (or part of one) answered with ``code`` and ``message``; nothing changed."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _duplicates(names: Sequence[str | None]) -> set[str | None]:
    return {name for name, n in Counter(names).items() if n > 1}


def _named_once(topics: Sequence[Any]) -> tuple[list[Any], list[str]]:
    """The request's topics named once, and the names given more than once (Kafka
    answers those INVALID_REQUEST, once each, and does nothing with them)."""
    twice = _duplicates([t.name for t in topics])
    return [t for t in topics if t.name not in twice], sorted(map(str, twice))


def _twice(name: str) -> str:
    return f"topic {name!r} is in the request more than once"


def _kafka_value(setting: Setting, value: Any) -> str:
    """A value of logway's topic config in Kafka's notation."""
    if setting.ours == "compression" and str(value).lower() in ("none", "uncompressed"):
        return "producer"
    if setting.ours is not None:
        return kafka_value(setting.ours, value)
    return str(value)


def _topic_settings(config: Mapping[str, Any]) -> list[tuple[Setting, str | None, Source]]:
    """Each topic setting with its value and where it comes from, out of a topic's
    config as ``describe_topic`` gives it (logway's names; a Kafka cluster's other
    settings in Kafka's)."""
    out = []
    for s in TOPIC_SETTINGS:
        raw = config.get(s.ours) if s.ours is not None else None
        if raw is None:
            raw = config.get(s.name)
        value = s.default if raw is None else _kafka_value(s, raw)
        source = Source.DEFAULT_CONFIG if value == s.default else Source.DYNAMIC_TOPIC_CONFIG
        out.append((s, value, source))
    return out


# --- CreateTopics ---------------------------------------------------------------------


def _requested_config(configs: Sequence[Any]) -> dict[str, str]:
    """A CreateTopics request's settings as ``create_topic`` takes them (Kafka's names),
    each checked; ``Refused`` with INVALID_CONFIG for one logway does not have or take."""
    names = [c.name for c in configs]
    twice = _duplicates(names)
    if twice:
        raise Refused(
            ErrorCode.invalid_config,
            f"the settings {', '.join(sorted(map(str, twice)))} are given more than once",
        )
    out: dict[str, str] = {}
    for c in configs:
        name, value = c.name, c.value
        setting = SETTINGS_BY_NAME.get(name)
        if setting is None and name not in KAFKA_ALIASES:
            known = ", ".join(sorted(SETTINGS_BY_NAME.keys() | KAFKA_ALIASES.keys()))
            raise Refused(
                ErrorCode.invalid_config,
                f"unknown topic setting {name!r}; logway's topics take {known}",
            )
        if value is None:
            raise Refused(ErrorCode.invalid_config, f"setting {name!r} has no value")
        if setting is not None and setting.ours is None:
            if value.strip() != setting.default:
                raise Refused(
                    ErrorCode.invalid_config,
                    f"{name}={value!r} is not possible: logway's topics have "
                    f"{name}={setting.default} ({setting.doc})",
                )
            continue
        if name == "compression.type" and value.strip().lower() in ("producer", "uncompressed"):
            continue  # logway's default: batches kept as sent
        try:
            convert_setting(KAFKA_ALIASES[name], value.strip())
        except errors.InvalidArgumentError as exc:
            raise Refused(ErrorCode.invalid_config, f"{name}={value!r}: {exc}") from None
        out[name] = value.strip()
    return out


def _partition_count(topic: Any) -> int:
    """The partitions a CreateTopics entry asks for, its replication checked."""
    rf, count = topic.replication_factor, topic.num_partitions
    if topic.assignments:
        if count != -1 or rf != -1:
            raise Refused(
                ErrorCode.invalid_request,
                "a manual replica assignment comes with num_partitions and "
                "replication_factor of -1, not with them set",
            )
        indexes = sorted(a.partition_index for a in topic.assignments)
        if indexes != list(range(len(indexes))):
            raise Refused(
                ErrorCode.invalid_replica_assignment,
                f"the assignment's partitions are {indexes}; they must be 0 to "
                f"{len(indexes) - 1}, each once",
            )
        for a in topic.assignments:
            if tuple(a.broker_ids) != (1,):
                raise Refused(
                    ErrorCode.invalid_replica_assignment,
                    f"partition {a.partition_index} is assigned to nodes "
                    f"{list(a.broker_ids)}; {ONE_NODE}, so assign [1] or leave it out",
                )
        return len(indexes)
    if rf > 1:
        raise Refused(
            ErrorCode.invalid_replication_factor,
            f"replication factor {rf} is more than the nodes there are: {ONE_NODE}; use 1 or -1",
        )
    if rf == 0 or rf < -1:
        raise Refused(
            ErrorCode.invalid_replication_factor,
            f"replication factor {rf}: use 1, or -1 for the default (1)",
        )
    if count == -1:
        return DEFAULT_PARTITIONS
    if not isinstance(count, int) or count < 1:
        raise Refused(
            ErrorCode.invalid_partitions,
            f"{count} partitions: a topic needs at least 1 (or -1 for the default, 1)",
        )
    return int(count)


@dataclass
class _Created:
    name: str
    error: ErrorCode = ErrorCode.none
    message: str | None = None
    partitions: int = -1
    config: dict[str, Any] | None = None


def _create_one(door: Door, topic: Any, existing: set[str], validate_only: bool) -> _Created:
    name = topic.name
    try:
        try:
            validate_topic_name(name)
        except errors.InvalidTopicNameError as exc:
            raise Refused(ErrorCode.invalid_topic_exception, str(exc)) from None
        if name in existing:
            raise Refused(ErrorCode.topic_already_exists, f"topic {name!r} already exists")
        count = _partition_count(topic)
        config = _requested_config(topic.configs)
        if validate_only:
            would_be = {
                KAFKA_ALIASES[k]: convert_setting(KAFKA_ALIASES[k], v) for k, v in config.items()
            }
            return _Created(name, partitions=count, config=would_be)
        broker = door.broker
        try:
            broker.create_topic(name, count, **config)
        except errors.TopicExistsError as exc:
            raise Refused(ErrorCode.topic_already_exists, str(exc)) from None
        except errors.InvalidTopicNameError as exc:
            raise Refused(ErrorCode.invalid_topic_exception, str(exc)) from None
        except errors.InvalidArgumentError as exc:
            raise Refused(ErrorCode.invalid_request, str(exc)) from None
        info = broker.describe_topic(name)
        return _Created(name, partitions=info.partitions, config=dict(info.config))
    except Refused as refused:
        return _Created(name, refused.code, refused.message)
    except Exception as exc:
        return _Created(name, code_for(exc), str(exc))


def _create_all(door: Door, request: Any, denied: Set[str]) -> list[_Created]:
    once, twice = _named_once(request.topics)
    existing = set(door.broker.list_topics())
    out = [
        _Created(t.name, ErrorCode.topic_authorization_failed, "Authorization failed.")
        if t.name in denied
        else _create_one(door, t, existing, request.validate_only)
        for t in once
    ]
    return out + [_Created(name, ErrorCode.invalid_request, _twice(name)) for name in twice]


def _may_create(door: Door, request: Any) -> tuple[Set[str], Set[str]]:
    """The topics the caller may not create, and those whose settings it may not see."""
    names = [t.name for t in _named_once(request.topics)[0]]
    denied: Set[str] = NO_NAMES
    if not permissions.visible(door, permissions.CREATE, CLUSTER, CLUSTER_NAME):
        denied = permissions.refused(door, permissions.CREATE, TOPIC, names)
    hidden = {n for n in names if not permissions.visible(door, DESCRIBE_CONFIGS_OP, TOPIC, n)}
    return denied, hidden


async def handle_create_topics(door: Door, version: int, request: Any) -> Any:
    denied, hidden = NO_NAMES, NO_NAMES
    if door.secured:
        denied, hidden = _may_create(door, request)
    results = await door.run(_create_all, door, request, denied)
    k = CREATE_TOPICS

    with_configs = wire.has_field(k, version, "CreatableTopicResult", "configs")

    def configs(config: dict[str, Any] | None) -> tuple[Any, ...]:
        if config is None or not with_configs:
            return ()
        return tuple(
            wire.make(
                k,
                version,
                "CreatableTopicConfigs",
                name=s.name,
                value=value,
                read_only=s.ours is None,
                config_source=source,
                is_sensitive=False,
            )
            for s, value, source in _topic_settings(config)
        )

    return wire.make(
        k,
        version,
        "CreateTopicsResponse",
        throttle_time=wire.NO_THROTTLE,
        topics=tuple(
            wire.make(
                k,
                version,
                "CreatableTopicResult",
                name=r.name,
                topic_id=door.node.topic_id(r.name) if r.error == ErrorCode.none else NO_TOPIC_ID,
                error_code=r.error,
                error_message=r.message,
                # Kafka: a created topic's settings only to who may describe them
                topic_config_error_code=ErrorCode.topic_authorization_failed
                if r.error == ErrorCode.none and r.name in hidden
                else ErrorCode.none,
                num_partitions=r.partitions,
                replication_factor=1 if r.error == ErrorCode.none else -1,
                configs=configs(None if r.name in hidden else r.config),
            )
            for r in results
        ),
    )


# --- DeleteTopics ---------------------------------------------------------------------


def _delete_all(
    door: Door,
    names: Sequence[str],
    hidden: Set[str] = NO_NAMES,
    kept: Set[str] = NO_NAMES,
) -> list[tuple[str, ErrorCode, str | None]]:
    """Delete each topic named once, except those the caller may not describe
    (``hidden``) or delete (``kept``), answered TOPIC_AUTHORIZATION_FAILED (``kept``
    only if they exist: one may know that a topic one may describe does not)."""
    twice = _duplicates(list(names))
    out: list[tuple[str, ErrorCode, str | None]] = []
    existing = set(door.broker.list_topics()) if kept else NO_NAMES
    for name in dict.fromkeys(names):
        if name in twice:
            out.append((name, ErrorCode.invalid_request, _twice(name)))
            continue
        if name in hidden or (name in kept and name in existing):
            out.append((name, ErrorCode.topic_authorization_failed, None))
            continue
        if name in kept:
            out.append((name, ErrorCode.unknown_topic_or_partition, f"no topic {name!r}"))
            continue
        try:
            door.broker.delete_topic(name)
        except errors.UnknownTopicError as exc:
            out.append((name, ErrorCode.unknown_topic_or_partition, str(exc)))
            continue
        except Exception as exc:
            out.append((name, code_for(exc), str(exc)))
            continue
        door.producers.forget_topic(name)
        out.append((name, ErrorCode.none, None))
    return out


async def handle_delete_topics(door: Door, version: int, request: Any) -> Any:
    names = list(request.topic_names)
    hidden, kept = NO_NAMES, NO_NAMES
    if door.secured and not permissions.visible(door, permissions.DELETE, CLUSTER, CLUSTER_NAME):
        once = [n for n in names if n not in _duplicates(names)]
        hidden = permissions.refused(door, permissions.DESCRIBE, TOPIC, once)
        kept = permissions.refused(door, permissions.DELETE, TOPIC, set(once) - hidden)
    results = await door.run(_delete_all, door, names, hidden, kept)
    k = DELETE_TOPICS
    return wire.make(
        k,
        version,
        "DeleteTopicsResponse",
        throttle_time=wire.NO_THROTTLE,
        responses=tuple(
            wire.make(
                k,
                version,
                "DeletableTopicResult",
                name=name,
                topic_id=door.node.topic_id(name) if error == ErrorCode.none else NO_TOPIC_ID,
                error_code=error,
                error_message=message,
            )
            for name, error, message in results
        ),
    )


# --- DescribeConfigs ------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    value: str | None
    kind: Kind
    read_only: bool
    source: Source
    doc: str
    synonyms: tuple[tuple[str, str | None, Source], ...]


def _topic_entries(door: Door, name: str) -> list[_Entry]:
    config = door.broker.describe_topic(name).config
    out = []
    for s, value, source in _topic_settings(config):
        synonyms = [] if s.synonym is None else [(s.synonym, s.default, Source.DEFAULT_CONFIG)]
        if source == Source.DYNAMIC_TOPIC_CONFIG:
            synonyms.insert(0, (s.name, value, source))
        out.append(_Entry(s.name, value, s.kind, s.ours is None, source, s.doc, tuple(synonyms)))
    return out


def _broker_entries(door: Door) -> list[_Entry]:
    """A few of Kafka's broker settings, as logway has them (none can be changed)."""
    auto = door.auto_create_topics
    fixed = Source.DEFAULT_CONFIG
    rows = [
        ("auto.create.topics.enable", str(auto).lower(), Kind.BOOLEAN, "auto.create.topics.enable"),
        ("broker.id", str(door.node.node_id), Kind.INT, "broker.id"),
        ("default.replication.factor", "1", Kind.INT, "one node"),
        ("delete.topic.enable", "true", Kind.BOOLEAN, "delete.topic.enable"),
        ("num.partitions", str(DEFAULT_PARTITIONS), Kind.INT, "num.partitions"),
        ("offsets.topic.replication.factor", "1", Kind.SHORT, "one node"),
    ]
    rows += [
        (s.synonym, s.default, s.kind, s.name)
        for s in TOPIC_SETTINGS
        if s.synonym is not None and s.default is not None
    ]
    out = []
    for name, value, kind, doc in sorted(set(rows)):
        source = (
            Source.STATIC_BROKER_CONFIG if name == "auto.create.topics.enable" and auto else fixed
        )
        out.append(_Entry(name, value, kind, True, source, DOCS[doc], ((name, value, source),)))
    return out


@dataclass
class _Described:
    resource_type: int
    resource_name: str
    error: ErrorCode = ErrorCode.none
    message: str | None = None
    entries: list[_Entry] | None = None


def _refusal(door: Door, resource: Any) -> tuple[ErrorCode, str] | None:
    """Kafka's ``ConfigHelper``: DESCRIBE_CONFIGS on the topic, or on the cluster for
    the node; the error and Kafka's message when the caller may not."""
    rtype, rname = resource.resource_type, resource.resource_name
    if rtype == TOPIC_RESOURCE and not permissions.authorized(
        door, DESCRIBE_CONFIGS_OP, TOPIC, rname
    ):
        return ErrorCode.topic_authorization_failed, "Topic authorization failed."
    if rtype == BROKER_RESOURCE and not permissions.authorized(
        door, DESCRIBE_CONFIGS_OP, CLUSTER, CLUSTER_NAME
    ):
        return ErrorCode.cluster_authorization_failed, "Cluster authorization failed."
    return None


def _describe_one(door: Door, resource: Any, refusal: tuple[ErrorCode, str] | None) -> _Described:
    rtype, rname = resource.resource_type, resource.resource_name
    answer = _Described(rtype, rname)
    if refusal is not None:
        answer.error, answer.message = refusal
        return answer
    try:
        if rtype == TOPIC_RESOURCE:
            try:
                validate_topic_name(rname)
            except errors.InvalidTopicNameError as exc:
                raise Refused(ErrorCode.invalid_topic_exception, str(exc)) from None
            entries = _topic_entries(door, rname)
        elif rtype == BROKER_RESOURCE:
            if rname not in ("", str(door.node.node_id)):
                raise Refused(
                    ErrorCode.invalid_request,
                    f"there is no node {rname!r}: logway is one node, id {door.node.node_id}",
                )
            entries = _broker_entries(door)
        else:
            raise Refused(
                ErrorCode.invalid_request,
                f"logway describes the settings of topics (resource type {TOPIC_RESOURCE}) "
                f"and of its node (type {BROKER_RESOURCE}), not of resource type {rtype}",
            )
    except Refused as refused:
        answer.error, answer.message = refused.code, refused.message
        return answer
    except Exception as exc:
        answer.error, answer.message = code_for(exc), str(exc)
        return answer
    keys = resource.configuration_keys
    if keys:
        wanted = set(keys)
        entries = [e for e in entries if e.name in wanted]
    answer.entries = entries
    return answer


async def handle_describe_configs(door: Door, version: int, request: Any) -> Any:
    refusals = [_refusal(door, r) if door.secured else None for r in request.resources]
    results = await door.run(
        lambda: [
            _describe_one(door, r, refused)
            for r, refused in zip(request.resources, refusals, strict=True)
        ]
    )
    synonyms_wanted = bool(getattr(request, "include_synonyms", False))
    docs_wanted = bool(getattr(request, "include_documentation", False))
    k = DESCRIBE_CONFIGS

    def entry(e: _Entry) -> Any:
        return wire.make(
            k,
            version,
            "DescribeConfigsResourceResult",
            name=e.name,
            value=e.value,
            read_only=e.read_only,
            is_default=e.source == Source.DEFAULT_CONFIG,
            config_source=e.source,
            is_sensitive=False,
            synonyms=tuple(
                wire.make(k, version, "DescribeConfigsSynonym", name=n, value=v, source=s)
                for n, v, s in e.synonyms
            )
            if synonyms_wanted
            else (),
            config_type=e.kind,
            documentation=e.doc if docs_wanted else None,
        )

    return wire.make(
        k,
        version,
        "DescribeConfigsResponse",
        throttle_time=wire.NO_THROTTLE,
        results=tuple(
            wire.make(
                k,
                version,
                "DescribeConfigsResult",
                error_code=r.error,
                error_message=r.message,
                resource_type=r.resource_type,
                resource_name=r.resource_name,
                configs=tuple(entry(e) for e in r.entries or ()),
            )
            for r in results
        ),
    )


# --- CreatePartitions -----------------------------------------------------------------


def _grow_one(door: Door, topic: Any, validate_only: bool) -> tuple[ErrorCode, str | None]:
    name, total = topic.name, topic.count
    broker = door.broker
    try:
        current = broker.describe_topic(name).partitions
        if total < current:
            raise Refused(
                ErrorCode.invalid_partitions,
                f"topic {name!r} has {current} partitions, more than the {total} asked for; "
                "partitions are never removed",
            )
        if total == current:
            raise Refused(
                ErrorCode.invalid_partitions, f"topic {name!r} already has {current} partitions"
            )
        if topic.assignments is not None:
            if len(topic.assignments) != total - current:
                raise Refused(
                    ErrorCode.invalid_replica_assignment,
                    f"{total - current} partitions are added but {len(topic.assignments)} "
                    "assignments were given",
                )
            for a in topic.assignments:
                if tuple(a.broker_ids) != (1,):
                    raise Refused(
                        ErrorCode.invalid_replica_assignment,
                        f"a new partition is assigned to nodes {list(a.broker_ids)}; "
                        f"{ONE_NODE}, so assign [1] or leave it out",
                    )
        if not can_add_partitions(broker):
            raise Refused(
                ErrorCode.invalid_request,
                f"this logway's backend ({type(broker).__name__}) does not add partitions",
            )
        if validate_only:
            return ErrorCode.none, None
        try:
            add_partitions(broker, name, total)
        except errors.InvalidArgumentError as exc:
            raise Refused(ErrorCode.invalid_partitions, str(exc)) from None
    except Refused as refused:
        return refused.code, refused.message
    except Exception as exc:
        return code_for(exc), str(exc)
    return ErrorCode.none, None


def _grow_all(
    door: Door, request: Any, denied: Set[str] = NO_NAMES
) -> list[tuple[str, ErrorCode, str | None]]:
    once, twice = _named_once(request.topics)
    refused: tuple[ErrorCode, str | None] = (ErrorCode.topic_authorization_failed, None)
    out = [
        (t.name, *(refused if t.name in denied else _grow_one(door, t, request.validate_only)))
        for t in once
    ]
    return out + [(name, ErrorCode.invalid_request, _twice(name)) for name in twice]


async def handle_create_partitions(door: Door, version: int, request: Any) -> Any:
    denied = NO_NAMES
    if door.secured:
        names = [t.name for t in _named_once(request.topics)[0]]
        denied = permissions.refused(door, permissions.ALTER, TOPIC, names)
    results = await door.run(_grow_all, door, request, denied)
    k = CREATE_PARTITIONS
    return wire.make(
        k,
        version,
        "CreatePartitionsResponse",
        throttle_time=wire.NO_THROTTLE,
        results=tuple(
            wire.make(
                k,
                version,
                "CreatePartitionsTopicResult",
                name=name,
                error_code=error,
                error_message=message,
            )
            for name, error, message in results
        ),
    )


HANDLERS: dict[int, Handler] = {
    CREATE_TOPICS: handle_create_topics,
    DELETE_TOPICS: handle_delete_topics,
    DESCRIBE_CONFIGS: handle_describe_configs,
    CREATE_PARTITIONS: handle_create_partitions,
}
