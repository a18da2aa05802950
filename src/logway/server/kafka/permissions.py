"""ACL checks on the Kafka port, made as Kafka's broker makes them (``AuthHelper`` and
the handlers of ``KafkaApis`` and ``ControllerApis``), over ``Access``.

The caller of a connection is set once, when it authenticates (``CALLER``, a context
variable of the connection's task); handlers ask only when ``door.secured``, so with
authentication off a request costs one attribute test more, at most.

``authorized`` is Kafka's ``authorize(..., logIfDenied=true)``: a refusal is written to
the audit trail. ``visible`` is ``logIfDenied=false``, for what listings leave out
silently (Metadata of all topics, ListGroups, OffsetFetch of all partitions). A caller
whose credentials no longer stand (a removed user) raises ``AuthenticationError``:
the listener closes its connection.

Operations and resources, per API (Kafka's "Operations and Resources on Protocols"):
Produce WRITE topic; Fetch READ topic; ListOffsets, Metadata DESCRIBE topic (and
CREATE, cluster or topic, to create one by Metadata); OffsetCommit READ group and
topic; OffsetFetch DESCRIBE group and topic; FindCoordinator DESCRIBE group;
JoinGroup, SyncGroup, Heartbeat, LeaveGroup READ group; DescribeGroups DESCRIBE group;
ListGroups DESCRIBE cluster, else each group's DESCRIBE; DeleteGroups DELETE group;
CreateTopics CREATE cluster or topic; DeleteTopics DELETE (and DESCRIBE) topic, or
DELETE cluster; CreatePartitions ALTER topic; DescribeConfigs DESCRIBE_CONFIGS topic or
cluster; InitProducerId WRITE on some topic (see ``writes_some_topic``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from typing import NamedTuple

from logway.auth.acls import PatternType, Permission
from logway.errors import PermissionDeniedError
from logway.server.access import OPEN, Identity
from logway.server.kafka.door import Door

TOPIC, GROUP, CLUSTER = "topic", "group", "cluster"
CLUSTER_NAME = "cluster"
READ, WRITE, CREATE, DELETE, ALTER = "read", "write", "create", "delete", "alter"
DESCRIBE, DESCRIBE_CONFIGS = "describe", "describe_configs"
DOOR = "kafka"  # the door named in audit records


class Caller(NamedTuple):
    who: Identity
    address: str


UNAUTHENTICATED = Caller(OPEN, "")  # authentication off: everything is allowed
CALLER: contextvars.ContextVar[Caller] = contextvars.ContextVar(
    "logway_kafka_caller", default=UNAUTHENTICATED
)


def authorized(door: Door, operation: str, resource_type: str, name: str) -> bool:
    """Whether the caller may; a refusal is audited."""
    who, address = CALLER.get()
    try:
        door.access.check(who, operation, resource_type, name, DOOR, address)
    except PermissionDeniedError:
        return False
    return True


def visible(door: Door, operation: str, resource_type: str, name: str) -> bool:
    """Whether the caller may, without an audit record (for what a listing leaves out)."""
    return door.access.allowed(CALLER.get().who, operation, resource_type, name)


def refused(door: Door, operation: str, resource_type: str, names: Iterable[str]) -> set[str]:
    """The names the caller may not (each asked once, each refusal audited)."""
    return {n for n in set(names) if not authorized(door, operation, resource_type, n)}


def writes_some_topic(door: Door) -> bool:
    """Kafka's ``authorizeByResourceType(WRITE, TOPIC)`` (KIP-679, Kafka 3.0+): whether
    some ACL allows the caller to write some topic that no deny covers. It stands in
    for IDEMPOTENT_WRITE on the cluster, which logway's ACLs do not have: an
    idempotent producer needs only WRITE on a topic. A refusal is audited."""
    who, address = CALLER.get()
    if who is OPEN:
        return True
    store = door.access.store
    assert store is not None
    groups = who.claims or store.groups_of(who.principal)
    principals = {who.principal, "User:*", *(f"Group:{g}" for g in groups)}
    denied_names: set[str] = set()
    denied_prefixes: set[str] = set()
    allowed: list[tuple[PatternType, str]] = []
    for acl in store.acls():
        if (
            acl.resource_type != TOPIC
            or acl.principal not in principals
            or acl.operation not in (WRITE, "all")
        ):
            continue
        if acl.permission is Permission.DENY:
            if acl.pattern_type is PatternType.LITERAL:
                if acl.name == "*":
                    allowed = []
                    break
                denied_names.add(acl.name)
            else:
                denied_prefixes.add(acl.name)
        else:
            allowed.append((acl.pattern_type, acl.name))
    else:
        if (PatternType.LITERAL, "*") in allowed:
            return True
        for pattern, name in allowed:
            if pattern is PatternType.LITERAL and name in denied_names:
                continue
            if any(name[:n] in denied_prefixes for n in range(1, len(name) + 1)):
                continue
            return True
    door.access.audit(
        who.principal,
        DOOR,
        "idempotent_write",
        CLUSTER,
        CLUSTER_NAME,
        "no ACL allows write on any topic (an idempotent producer needs one)",
        address,
    )
    return False
