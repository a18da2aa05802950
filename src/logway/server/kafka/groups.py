"""Kafka's classic consumer group protocol: FindCoordinator, JoinGroup, SyncGroup,
Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups, OffsetCommit and
OffsetFetch. The state machine is ``coordinator.GroupCoordinator``; this module reads
each version of the requests and writes each version of the answers.

This node is the coordinator of every group. Offsets are the broker's committed
offsets (``Broker.commit``/``committed``), so ``logway groups describe``, lag and
``/metrics`` see Kafka clients' groups, and a group's offsets are the same whichever
kind of consumer committed them. Committed metadata strings are not kept (OffsetFetch
answers ""). A ``group.instance.id`` is accepted and reported, but its member is
treated as a dynamic one: a restart under the same instance id joins as a new member
and the old one leaves at its session timeout (no static membership, so no
FENCED_INSTANCE_ID). FindCoordinator for a transaction is refused: logway does not
store transactions.

Kafka clients and logway consumers in one group: refused, both ways. A group that
logway consumers (of this server, its functions and deliveries) are members of
answers a Kafka client's JoinGroup with INCONSISTENT_GROUP_PROTOCOL, Kafka's error
for a group already used with another kind of protocol; and while Kafka clients are
members of a group, a logway consumer joining it gets an error saying so (and
``logway groups reset`` refuses it). The two coordinators each hand out all of a
group's partitions, so sharing one group would give each partition to two consumers.
Offsets are shared: a Kafka client committing without a generation (an admin tool, a
consumer using ``assign``) writes the same committed offsets logway's own consumers
read. This check needs the server to own its data directory.

DeleteGroups deletes a group that only this coordinator knows (no committed offsets);
a group with committed offsets is answered POLICY_VIOLATION, as the ``Broker``
protocol has no way to delete a group's committed offsets. A group with members is
NON_EMPTY_GROUP, as in Kafka.

With authentication on, each API asks what Kafka's ``KafkaApis`` asks (see
``permissions``) and answers a refusal with GROUP_AUTHORIZATION_FAILED, or
TOPIC_AUTHORIZATION_FAILED for the partitions of a topic, changing nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import logging
from typing import Any, TypeVar

from kio.schema.errors import ErrorCode

from logway.broker import Broker
from logway.records import TopicPartition
from logway.server.kafka import permissions, wire
from logway.server.kafka.coordinator import (
    GroupCoordinator,
    JoinRequest,
    JoinResult,
    State,
    SyncResult,
)
from logway.server.kafka.door import Door
from logway.server.kafka.errors import code_for

__all__ = ["CLIENT", "HANDLERS", "GroupCoordinator"]

log = logging.getLogger("logway.server.kafka")
T = TypeVar("T")

OFFSET_COMMIT = 8
OFFSET_FETCH = 9
FIND_COORDINATOR = 10
JOIN_GROUP = 11
HEARTBEAT = 12
LEAVE_GROUP = 13
SYNC_GROUP = 14
DESCRIBE_GROUPS = 15
LIST_GROUPS = 16
DELETE_GROUPS = 42

GROUP_KEY, TRANSACTION_KEY = 0, 1
TOPIC, GROUP, CLUSTER = permissions.TOPIC, permissions.GROUP, permissions.CLUSTER
READ, DELETE, DESCRIBE = permissions.READ, permissions.DELETE, permissions.DESCRIBE
NO_AUTHORIZED_OPERATIONS = -(2**31)  # "not asked for" in Kafka's schema

# (client id, client host) of the request being answered, for member ids and
# DescribeGroups; the listener sets it where it knows them
CLIENT: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "logway_kafka_client", default=("", "")
)


def _denied(door: Door, operation: str, group_id: str) -> bool:
    """Whether authentication is on and the caller may not ``operation`` the group."""
    return door.secured and not permissions.authorized(door, operation, GROUP, group_id)


def _ms(value: dt.timedelta | None, default: int) -> int:
    if value is None:
        return default
    return int(value / dt.timedelta(milliseconds=1))


async def _answer(door: Door, fut: asyncio.Future[T]) -> T | None:
    """``fut``'s result, or None once the listener stops (a parked JoinGroup or
    SyncGroup must not hold up the shutdown)."""
    if fut.done():
        return fut.result()
    stopping: asyncio.Future[Any] = asyncio.ensure_future(door.stopping.wait())
    waiting: set[asyncio.Future[Any]] = {fut, stopping}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return fut.result() if fut.done() else None


# --- FindCoordinator --------------------------------------------------------------


async def handle_find_coordinator(door: Door, version: int, request: Any) -> Any:
    k = FIND_COORDINATOR
    node = door.node
    key_type = getattr(request, "key_type", GROUP_KEY)

    def found(key: str) -> dict[str, Any]:
        if key_type == TRANSACTION_KEY:
            return {
                "key": key,
                "error_code": ErrorCode.unsupported_for_message_format,
                "error_message": "logway does not support transactions; turn transactions "
                "off in the producer",
                "node_id": -1,
                "host": "",
                "port": -1,
            }
        if key_type != GROUP_KEY:
            return {
                "key": key,
                "error_code": ErrorCode.invalid_request,
                "error_message": f"unknown coordinator key type {key_type}",
                "node_id": -1,
                "host": "",
                "port": -1,
            }
        if _denied(door, DESCRIBE, key):
            return {
                "key": key,
                "error_code": ErrorCode.group_authorization_failed,
                "error_message": "Group authorization failed.",  # Kafka's words
                "node_id": -1,
                "host": "",
                "port": -1,
            }
        return {
            "key": key,
            "error_code": ErrorCode.none,
            "error_message": None,
            "node_id": node.node_id,
            "host": node.host,
            "port": node.port,
        }

    if version >= 4:
        return wire.make(
            k,
            version,
            "FindCoordinatorResponse",
            throttle_time=wire.NO_THROTTLE,
            coordinators=tuple(
                wire.make(k, version, "Coordinator", **found(key))
                for key in request.coordinator_keys
            ),
        )
    return wire.make(
        k, version, "FindCoordinatorResponse", throttle_time=wire.NO_THROTTLE, **found(request.key)
    )


# --- JoinGroup, SyncGroup, Heartbeat, LeaveGroup ----------------------------------


async def handle_join_group(door: Door, version: int, request: Any) -> Any:
    client_id, client_host = CLIENT.get()
    session_ms = _ms(request.session_timeout, 0)
    rebalance_ms = _ms(getattr(request, "rebalance_timeout", None), session_ms)
    if rebalance_ms < 0:
        rebalance_ms = session_ms
    result: JoinResult | None = None
    if _denied(door, READ, request.group_id):
        result = JoinResult(ErrorCode.group_authorization_failed)
    elif not door.stopping.is_set():
        join = JoinRequest(
            group_id=request.group_id,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
            client_id=client_id,
            client_host=client_host,
            session_timeout_ms=session_ms,
            rebalance_timeout_ms=rebalance_ms,
            protocol_type=request.protocol_type,
            protocols=tuple((p.name, p.metadata) for p in request.protocols),
            require_known_member_id=version >= 4,
        )
        result = await _answer(door, door.groups.join(join))
    if result is None:
        result = JoinResult(ErrorCode.coordinator_not_available, request.member_id)
    k = JOIN_GROUP
    return wire.make(
        k,
        version,
        "JoinGroupResponse",
        throttle_time=wire.NO_THROTTLE,
        error_code=result.error,
        generation_id=result.generation,
        protocol_type=result.protocol_type,
        # nullable from v7; before, "" stands for none
        protocol_name=result.protocol_name if version >= 7 else (result.protocol_name or ""),
        leader=result.leader,
        member_id=result.member_id,
        members=tuple(
            wire.make(
                k,
                version,
                "JoinGroupResponseMember",
                member_id=member_id,
                group_instance_id=instance_id,
                metadata=metadata,
            )
            for member_id, instance_id, metadata in result.members
        ),
    )


async def handle_sync_group(door: Door, version: int, request: Any) -> Any:
    result: SyncResult | None = None
    if _denied(door, READ, request.group_id):
        result = SyncResult(ErrorCode.group_authorization_failed)
    elif not door.stopping.is_set():
        fut = door.groups.sync(
            request.group_id,
            request.generation_id,
            request.member_id,
            getattr(request, "protocol_type", None),
            getattr(request, "protocol_name", None),
            {a.member_id: a.assignment for a in request.assignments},
        )
        result = await _answer(door, fut)
    if result is None:
        result = SyncResult(ErrorCode.coordinator_not_available)
    return wire.make(
        SYNC_GROUP,
        version,
        "SyncGroupResponse",
        throttle_time=wire.NO_THROTTLE,
        error_code=result.error,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol_name,
        assignment=result.assignment,
    )


async def handle_heartbeat(door: Door, version: int, request: Any) -> Any:
    if _denied(door, READ, request.group_id):
        error = ErrorCode.group_authorization_failed
    else:
        error = door.groups.heartbeat(request.group_id, request.generation_id, request.member_id)
    return wire.make(
        HEARTBEAT, version, "HeartbeatResponse", throttle_time=wire.NO_THROTTLE, error_code=error
    )


async def handle_leave_group(door: Door, version: int, request: Any) -> Any:
    k = LEAVE_GROUP
    if _denied(door, READ, request.group_id):
        return wire.make(
            k,
            version,
            "LeaveGroupResponse",
            throttle_time=wire.NO_THROTTLE,
            error_code=ErrorCode.group_authorization_failed,
            members=(),
        )
    if version < 3:
        leaving = [(request.member_id, None)]
    else:
        leaving = [(m.member_id, m.group_instance_id) for m in request.members]
    each = door.groups.leave(request.group_id, leaving)
    if version < 3:
        return wire.make(
            k,
            version,
            "LeaveGroupResponse",
            throttle_time=wire.NO_THROTTLE,
            error_code=each[0],
        )
    return wire.make(
        k,
        version,
        "LeaveGroupResponse",
        throttle_time=wire.NO_THROTTLE,
        error_code=ErrorCode.none,
        members=tuple(
            wire.make(
                k,
                version,
                "MemberResponse",
                member_id=member_id,
                group_instance_id=instance_id,
                error_code=code,
            )
            for (member_id, instance_id), code in zip(leaving, each, strict=True)
        ),
    )


# --- DescribeGroups, ListGroups, DeleteGroups -------------------------------------


def _stored_groups(broker: Broker) -> set[str]:
    """Groups with committed offsets (Kafka lists those as Empty groups)."""
    try:
        return set(broker.list_groups())
    except Exception:
        log.exception("cannot list the broker's groups")
        return set()


async def handle_describe_groups(door: Door, version: int, request: Any) -> Any:
    k = DESCRIBE_GROUPS
    known = door.groups.groups
    denied: set[str] = set()
    if door.secured:
        denied = permissions.refused(door, DESCRIBE, GROUP, request.groups)
    stored: set[str] = set()
    if any(g not in known and g not in denied for g in request.groups):
        stored = await door.run(_stored_groups, door.broker)
    described = []
    for group_id in request.groups:
        if group_id in denied:  # Kafka's DescribeGroupsResponse.groupError
            described.append(
                wire.make(
                    k,
                    version,
                    "DescribedGroup",
                    error_code=ErrorCode.group_authorization_failed,
                    group_id=group_id,
                    group_state="",
                    protocol_type="",
                    protocol_data="",
                    members=(),
                    authorized_operations=NO_AUTHORIZED_OPERATIONS,
                )
            )
            continue
        group = known.get(group_id)
        members: tuple[Any, ...] = ()
        if group is None:
            state = State.EMPTY if group_id in stored else State.DEAD
            protocol_type, protocol = "", ""
        else:
            state = group.state
            protocol_type = group.protocol_type or ""
            stable = state is State.STABLE
            protocol = (group.protocol_name or "") if stable else ""
            members = tuple(
                wire.make(
                    k,
                    version,
                    "DescribedGroupMember",
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    # metadata and assignment only once Stable, as Kafka reports them
                    member_metadata=m.metadata(group.protocol_name) if stable else b"",
                    member_assignment=m.assignment if stable else b"",
                )
                for m in group.members.values()
            )
        described.append(
            wire.make(
                k,
                version,
                "DescribedGroup",
                error_code=ErrorCode.none,
                group_id=group_id,
                group_state=state.value,
                protocol_type=protocol_type,
                protocol_data=protocol,
                members=members,
                authorized_operations=NO_AUTHORIZED_OPERATIONS,
            )
        )
    return wire.make(
        k,
        version,
        "DescribeGroupsResponse",
        throttle_time=wire.NO_THROTTLE,
        groups=tuple(described),
    )


async def handle_list_groups(door: Door, version: int, request: Any) -> Any:
    k = LIST_GROUPS
    stored = await door.run(_stored_groups, door.broker)
    listed: dict[str, tuple[str, str]] = {g: ("", State.EMPTY.value) for g in stored}
    for group_id, group in door.groups.groups.items():
        listed[group_id] = (group.protocol_type or "", group.state.value)
    if door.secured and not permissions.visible(door, DESCRIBE, CLUSTER, permissions.CLUSTER_NAME):
        listed = {g: v for g, v in listed.items() if permissions.visible(door, DESCRIBE, GROUP, g)}
    wanted = {s.lower() for s in getattr(request, "states_filter", ()) or ()}
    return wire.make(
        k,
        version,
        "ListGroupsResponse",
        throttle_time=wire.NO_THROTTLE,
        error_code=ErrorCode.none,
        groups=tuple(
            wire.make(
                k,
                version,
                "ListedGroup",
                group_id=group_id,
                protocol_type=protocol_type,
                group_state=state,
            )
            for group_id, (protocol_type, state) in sorted(listed.items())
            if not wanted or state.lower() in wanted
        ),
    )


async def handle_delete_groups(door: Door, version: int, request: Any) -> Any:
    k = DELETE_GROUPS
    denied: set[str] = set()
    if door.secured:
        denied = permissions.refused(door, DELETE, GROUP, request.groups_names)
    stored = await door.run(_stored_groups, door.broker)
    results = []
    for group_id in request.groups_names:
        group = door.groups.groups.get(group_id)
        if group_id in denied:
            error = ErrorCode.group_authorization_failed
        elif group is not None and (group.members or group.pending):
            error = ErrorCode.non_empty_group
        elif group_id in stored:
            log.warning(
                "a Kafka client asked to delete group %r: logway cannot delete a group's "
                "committed offsets; move them with `logway groups reset` instead",
                group_id,
            )
            error = ErrorCode.policy_violation
        else:
            error = door.groups.delete(group_id)
        results.append(
            wire.make(k, version, "DeletableGroupResult", group_id=group_id, error_code=error)
        )
    return wire.make(
        k,
        version,
        "DeleteGroupsResponse",
        throttle_time=wire.NO_THROTTLE,
        results=tuple(results),
    )


# --- OffsetCommit, OffsetFetch ----------------------------------------------------


def _commit(
    broker: Broker, group: str, offsets: dict[TopicPartition, int]
) -> dict[TopicPartition, ErrorCode]:
    """Commit all at once; if that is refused, each partition alone, so that one bad
    partition gets its own error and the others are stored."""
    try:
        broker.commit(group, offsets)
        return dict.fromkeys(offsets, ErrorCode.none)
    except Exception:
        pass
    out = {}
    for tp, offset in offsets.items():
        try:
            broker.commit(group, {tp: offset})
            out[tp] = ErrorCode.none
        except Exception as exc:
            out[tp] = code_for(exc)
    return out


def _valid_group(group_id: str) -> bool:
    return bool(group_id) and len(group_id) <= 249 and "\0" not in group_id


async def handle_offset_commit(door: Door, version: int, request: Any) -> Any:
    k = OFFSET_COMMIT
    group_id = request.group_id
    offsets = {
        TopicPartition(t.name, p.partition_index): p.committed_offset
        for t in request.topics
        for p in t.partitions
    }
    refused: dict[TopicPartition, ErrorCode] = {}
    if _denied(door, READ, group_id):
        error = ErrorCode.group_authorization_failed
    elif not _valid_group(group_id):
        error = ErrorCode.invalid_group_id
    else:
        if door.secured:
            topics = (t.name for t in request.topics)
            denied = permissions.refused(door, READ, TOPIC, topics)
            refused = {
                tp: ErrorCode.topic_authorization_failed for tp in offsets if tp.topic in denied
            }
            offsets = {tp: o for tp, o in offsets.items() if tp.topic not in denied}
        error = door.groups.check_commit(
            group_id,
            getattr(request, "generation_id_or_member_epoch", -1),
            getattr(request, "member_id", ""),
        )
    if error == ErrorCode.none and offsets:
        results = await door.run(_commit, door.broker, group_id, offsets)
    else:
        results = dict.fromkeys(offsets, error)
    results.update(refused)
    return wire.make(
        k,
        version,
        "OffsetCommitResponse",
        throttle_time=wire.NO_THROTTLE,
        topics=tuple(
            wire.make(
                k,
                version,
                "OffsetCommitResponseTopic",
                name=t.name,
                partitions=tuple(
                    wire.make(
                        k,
                        version,
                        "OffsetCommitResponsePartition",
                        partition_index=p.partition_index,
                        error_code=results[TopicPartition(t.name, p.partition_index)],
                    )
                    for p in t.partitions
                ),
            )
            for t in request.topics
        ),
    )


async def handle_offset_fetch(door: Door, version: int, request: Any) -> Any:
    k = OFFSET_FETCH
    group_id = request.group_id
    error = ErrorCode.none
    committed: dict[TopicPartition, int] = {}
    if _denied(door, DESCRIBE, group_id):
        error = ErrorCode.group_authorization_failed
    elif not _valid_group(group_id):
        error = ErrorCode.invalid_group_id
    else:
        try:
            committed = await door.run(door.broker.committed, group_id)
        except Exception as exc:
            error = code_for(exc)
    wanted: list[tuple[str, list[int]]]
    if request.topics is None:  # every partition the group committed
        by_topic: dict[str, list[int]] = {}
        for tp in sorted(committed):
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        wanted = sorted(by_topic.items())
    else:
        wanted = [(t.name, list(t.partition_indexes)) for t in request.topics]
    denied: set[str] = set()
    if door.secured and error == ErrorCode.none:
        if request.topics is None:  # topics one may not describe are left out
            wanted = [w for w in wanted if permissions.visible(door, DESCRIBE, TOPIC, w[0])]
        else:
            denied = permissions.refused(door, DESCRIBE, TOPIC, (name for name, _ in wanted))
    # before v2 a group's error can only be told per partition
    each = error if version < 2 else ErrorCode.none
    return wire.make(
        k,
        version,
        "OffsetFetchResponse",
        throttle_time=wire.NO_THROTTLE,
        error_code=error,
        topics=tuple(
            wire.make(
                k,
                version,
                "OffsetFetchResponseTopic",
                name=topic,
                partitions=tuple(
                    wire.make(
                        k,
                        version,
                        "OffsetFetchResponsePartition",
                        partition_index=p,
                        committed_offset=-1
                        if topic in denied
                        else committed.get(TopicPartition(topic, p), -1),
                        committed_leader_epoch=-1,
                        metadata="",
                        error_code=ErrorCode.topic_authorization_failed
                        if topic in denied
                        else each,
                    )
                    for p in partitions
                ),
            )
            for topic, partitions in wanted
        ),
    )


HANDLERS = {
    OFFSET_COMMIT: handle_offset_commit,
    OFFSET_FETCH: handle_offset_fetch,
    FIND_COORDINATOR: handle_find_coordinator,
    JOIN_GROUP: handle_join_group,
    HEARTBEAT: handle_heartbeat,
    LEAVE_GROUP: handle_leave_group,
    SYNC_GROUP: handle_sync_group,
    DESCRIBE_GROUPS: handle_describe_groups,
    LIST_GROUPS: handle_list_groups,
    DELETE_GROUPS: handle_delete_groups,
}
