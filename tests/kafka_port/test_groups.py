"""Consumer groups on the Kafka port: confluent-kafka, kafka-python and aiokafka groups
share partitions, rebalance when members come, leave or die, and commit offsets that
logway's own API reads; the admin calls list and describe them; raw requests check
the coordinator's error codes, and that Kafka clients and logway consumers never
share a group."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    KafkaError,
    KafkaException,
)
from confluent_kafka import TopicPartition as KTopicPartition
from confluent_kafka.admin import AdminClient
from kio.index import load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.serial import entity_writer

import logway
from logway.broker import Broker
from logway.errors import InvalidArgumentError
from logway.records import TopicPartition
from logway.server.kafka import KafkaListener, wire

WAIT = 60.0  # generous: a loaded 2-core machine rebalances slowly
SESSION_MS = 6000  # the coordinator's minimum session timeout, as Kafka's


# --- raw requests -----------------------------------------------------------------


def request(api_key: int, version: int, name: str, /, **values: Any) -> Any:
    """A kio request (or nested) object of this version, from the fields it has."""
    module = sys.modules[load_request_schema(api_key, version).__module__]
    cls = getattr(module, name)
    allowed = set(cls.__dataclass_fields__)
    return cls(**{k: v for k, v in values.items() if k in allowed})


class Raw:
    """One Kafka connection sending kio requests and reading their responses."""

    def __init__(self, address: tuple[str, int] | str, client_id: str = "raw-test"):
        if isinstance(address, str):
            host, _, port = address.rpartition(":")
            address = (host, int(port))
        self.sock = socket.create_connection(address, timeout=WAIT)
        self.client_id = client_id.encode()
        self.correlation = 0

    def call(self, req: Any) -> Any:
        cls = type(req)
        api_key, version = int(cls.__api_key__), int(cls.__version__)
        self.correlation += 1
        head = struct.pack(">hhih", api_key, version, self.correlation, len(self.client_id))
        head += self.client_id + (b"\0" if cls.__flexible__ else b"")
        body = io.BytesIO()
        entity_writer(cls)(body, req)
        data = head + body.getvalue()
        self.sock.sendall(struct.pack(">i", len(data)) + data)
        frame = self._exactly(struct.unpack(">i", self._exactly(4))[0])
        (correlation,) = struct.unpack_from(">i", frame)
        assert correlation == self.correlation
        pos = 4 + (1 if cls.__flexible__ else 0)  # no tagged fields in our headers
        return wire.parse(load_response_schema(api_key, version), frame, pos)

    def _exactly(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            out += chunk
        return out

    def close(self) -> None:
        self.sock.close()


PROTOCOLS = (("range", b"range-meta"),)


def join_request(
    group: str,
    member: str = "",
    *,
    protocols: tuple[tuple[str, bytes], ...] = PROTOCOLS,
    session_ms: int = 30_000,
    rebalance_ms: int = 30_000,
    version: int = 7,
) -> Any:
    k = 11
    return request(
        k,
        version,
        "JoinGroupRequest",
        group_id=group,
        session_timeout=dt.timedelta(milliseconds=session_ms),
        rebalance_timeout=dt.timedelta(milliseconds=rebalance_ms),
        member_id=member,
        group_instance_id=None,
        protocol_type="consumer",
        protocols=tuple(
            request(k, version, "JoinGroupRequestProtocol", name=n, metadata=m)
            for n, m in protocols
        ),
    )


def member_id(raw: Raw, group: str, **options: Any) -> str:
    """The member id the coordinator hands out (JoinGroup v4+'s MEMBER_ID_REQUIRED)."""
    answer = raw.call(join_request(group, **options))
    assert answer.error_code == ErrorCode.member_id_required
    assert answer.member_id
    return str(answer.member_id)


def sync(raw: Raw, group: str, generation: int, member: str, assign: dict[str, bytes]) -> Any:
    k = 14
    return raw.call(
        request(
            k,
            5,
            "SyncGroupRequest",
            group_id=group,
            generation_id=generation,
            member_id=member,
            group_instance_id=None,
            protocol_type="consumer",
            protocol_name=None,
            assignments=tuple(
                request(k, 5, "SyncGroupRequestAssignment", member_id=m, assignment=a)
                for m, a in assign.items()
            ),
        )
    )


def heartbeat(raw: Raw, group: str, generation: int, member: str) -> ErrorCode:
    answer = raw.call(
        request(
            12,
            4,
            "HeartbeatRequest",
            group_id=group,
            generation_id=generation,
            member_id=member,
            group_instance_id=None,
        )
    )
    return ErrorCode(answer.error_code)


def leave(raw: Raw, group: str, member: str) -> Any:
    k = 13
    return raw.call(
        request(
            k,
            4,
            "LeaveGroupRequest",
            group_id=group,
            members=(request(k, 4, "MemberIdentity", member_id=member, group_instance_id=None),),
        )
    )


def commit(
    raw: Raw, group: str, generation: int, member: str, offsets: dict[tuple[str, int], int]
) -> dict[tuple[str, int], ErrorCode]:
    k = 8
    topics: dict[str, list[Any]] = {}
    for (topic, p), offset in offsets.items():
        topics.setdefault(topic, []).append(
            request(
                k,
                8,
                "OffsetCommitRequestPartition",
                partition_index=p,
                committed_offset=offset,
                committed_leader_epoch=-1,
                committed_metadata=None,
            )
        )
    answer = raw.call(
        request(
            k,
            8,
            "OffsetCommitRequest",
            group_id=group,
            generation_id_or_member_epoch=generation,
            member_id=member,
            group_instance_id=None,
            topics=tuple(
                request(k, 8, "OffsetCommitRequestTopic", name=t, partitions=tuple(ps))
                for t, ps in topics.items()
            ),
        )
    )
    return {
        (t.name, p.partition_index): ErrorCode(p.error_code)
        for t in answer.topics
        for p in t.partitions
    }


def describe(raw: Raw, group: str) -> Any:
    answer = raw.call(
        request(
            15, 5, "DescribeGroupsRequest", groups=(group,), include_authorized_operations=False
        )
    )
    (found,) = answer.groups
    return found


def form_group(raw: Raw, group: str, **options: Any) -> tuple[str, int]:
    """A group of one member, Stable: its member id and generation."""
    me = member_id(raw, group, **options)
    joined = raw.call(join_request(group, me, **options))
    assert joined.error_code == ErrorCode.none
    assert joined.leader == me
    synced = sync(raw, group, joined.generation_id, me, {me: b"all"})
    assert synced.error_code == ErrorCode.none and synced.assignment == b"all"
    return me, int(joined.generation_id)


@pytest.fixture
def raws(bootstrap: str) -> Iterator[Callable[[], Raw]]:
    opened: list[Raw] = []

    def new() -> Raw:
        raw = Raw(bootstrap)
        opened.append(raw)
        return raw

    yield new
    for raw in opened:
        raw.close()


@pytest.fixture
def group() -> str:
    return f"g-{uuid.uuid4().hex[:10]}"


def until(condition: Callable[[], bool], what: str, step: Callable[[], None] | None = None) -> None:
    """Run ``step`` (polling consumers) until ``condition`` holds, within WAIT."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if step is not None:
            step()
        else:
            time.sleep(0.05)


# --- raw protocol ------------------------------------------------------------------


def test_find_coordinator_is_this_node_and_transactions_are_refused(
    raws: Callable[[], Raw], bootstrap: str
) -> None:
    raw = raws()
    host, _, port = bootstrap.rpartition(":")
    one = raw.call(request(10, 3, "FindCoordinatorRequest", key="some-group", key_type=0))
    assert one.error_code == ErrorCode.none
    assert (one.host, one.port) == (host, int(port))
    batch = raw.call(
        request(10, 4, "FindCoordinatorRequest", key_type=0, coordinator_keys=("a", "b"))
    )
    assert [(c.key, c.error_code, c.host, c.port) for c in batch.coordinators] == [
        ("a", ErrorCode.none, host, int(port)),
        ("b", ErrorCode.none, host, int(port)),
    ]
    txn = raw.call(request(10, 4, "FindCoordinatorRequest", key_type=1, coordinator_keys=("t",)))
    (refused,) = txn.coordinators
    assert refused.error_code != ErrorCode.none
    assert "transactions" in refused.error_message


def test_join_sync_leader_and_protocol_selection(raws: Callable[[], Raw], group: str) -> None:
    a, b, c = raws(), raws(), raws()
    both = (("range", b"a-range"), ("roundrobin", b"a-rr"))
    a_id, gen = form_group(a, group, protocols=both)
    # a second member: the leader learns of the rebalance by its heartbeat and rejoins
    b_prefs = (("roundrobin", b"b-rr"), ("range", b"b-range"))
    b_id = member_id(b, group, protocols=b_prefs)
    with ThreadPoolExecutor(4) as pool:
        b_join = pool.submit(b.call, join_request(group, b_id, protocols=b_prefs))
        until(
            lambda: heartbeat(a, group, gen, a_id) == ErrorCode.rebalance_in_progress, "rebalance"
        )
        a_join = a.call(join_request(group, a_id, protocols=both))
        b_joined = b_join.result(WAIT)
        assert a_join.error_code == b_joined.error_code == ErrorCode.none
        assert a_join.generation_id == b_joined.generation_id == gen + 1
        assert a_join.leader == b_joined.leader == a_id  # the leader stays
        # one vote each: the tie goes to the leader's first choice
        assert a_join.protocol_name == b_joined.protocol_name == "range"
        assert {(m.member_id, m.metadata) for m in a_join.members} == {
            (a_id, b"a-range"),
            (b_id, b"b-range"),
        }
        assert b_joined.members == ()  # only the leader sees the members
        # the follower's SyncGroup waits for the leader's assignment
        b_sync = pool.submit(sync, b, group, gen + 1, b_id, {})
        with pytest.raises(FutureTimeout):
            b_sync.result(0.3)
        a_sync = sync(a, group, gen + 1, a_id, {a_id: b"for-a", b_id: b"for-b"})
        assert (a_sync.error_code, a_sync.assignment) == (ErrorCode.none, b"for-a")
        answer = b_sync.result(WAIT)
        assert (answer.error_code, answer.assignment) == (ErrorCode.none, b"for-b")
        assert answer.protocol_name == "range"

        # a third member preferring roundrobin: two votes to one
        c_prefs = (("roundrobin", b"c-rr"), ("range", b"c-range"))
        c_id = member_id(c, group, protocols=c_prefs)
        c_join = pool.submit(c.call, join_request(group, c_id, protocols=c_prefs))
        until(
            lambda: heartbeat(a, group, gen + 1, a_id) == ErrorCode.rebalance_in_progress,
            "rebalance",
        )
        a_join2 = pool.submit(a.call, join_request(group, a_id, protocols=both))
        b_join2 = pool.submit(b.call, join_request(group, b_id, protocols=b_prefs))
        joined = [f.result(WAIT) for f in (a_join2, b_join2, c_join)]
        assert {j.generation_id for j in joined} == {gen + 2}
        assert {j.protocol_name for j in joined} == {"roundrobin"}
        assert [len(j.members) for j in joined] == [3, 0, 0]

    described = describe(a, group)
    assert described.group_state == "CompletingRebalance"
    assert {m.member_id for m in described.members} == {a_id, b_id, c_id}
    assert leave(a, group, a_id).members[0].error_code == ErrorCode.none
    # the leader left: the group rebalances and another member leads
    with ThreadPoolExecutor(2) as pool:
        rejoined = [
            pool.submit(b.call, join_request(group, b_id, protocols=b_prefs)),
            pool.submit(c.call, join_request(group, c_id, protocols=c_prefs)),
        ]
        answers = [f.result(WAIT) for f in rejoined]
    assert {x.generation_id for x in answers} == {gen + 3}
    assert {x.leader for x in answers} <= {b_id, c_id}
    assert len({x.leader for x in answers}) == 1


@pytest.mark.slow
def test_a_member_that_does_not_rejoin_is_removed_after_the_rebalance_timeout(
    raws: Callable[[], Raw], group: str
) -> None:
    a, b, c = raws(), raws(), raws()
    short = {"rebalance_ms": 1500}
    a_id, gen = form_group(a, group, **short)
    b_id = member_id(b, group, **short)
    with ThreadPoolExecutor(2) as pool:
        b_join = pool.submit(b.call, join_request(group, b_id, **short))
        until(
            lambda: heartbeat(a, group, gen, a_id) == ErrorCode.rebalance_in_progress, "rebalance"
        )
        a.call(join_request(group, a_id, **short))
        assert b_join.result(WAIT).generation_id == gen + 1
        # c comes; a rejoins, b says nothing: after 1.5 s the group goes on without b
        c_id = member_id(c, group, **short)
        c_join = pool.submit(c.call, join_request(group, c_id, **short))
        until(
            lambda: heartbeat(a, group, gen + 1, a_id) == ErrorCode.rebalance_in_progress,
            "rebalance",
        )
        started = time.monotonic()
        a_join = a.call(join_request(group, a_id, **short))
        assert time.monotonic() - started >= 1.0  # it waited for b
        c_joined = c_join.result(WAIT)
    assert a_join.generation_id == c_joined.generation_id == gen + 2
    assert {m.member_id for m in a_join.members} == {a_id, c_id}
    assert heartbeat(b, group, gen + 1, b_id) == ErrorCode.unknown_member_id
    # b joins again with its old id: unknown, so it starts over without one
    assert b.call(join_request(group, b_id, **short)).error_code == ErrorCode.unknown_member_id


def test_generation_and_member_fencing(
    raws: Callable[[], Raw], group: str, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name, partitions=2)
    broker.produce_many(topic_name, [b"x"] * 5, partition=0)
    a, other = raws(), raws()
    a_id, gen = form_group(a, group)
    assert heartbeat(a, group, gen, a_id) == ErrorCode.none
    assert heartbeat(a, group, gen + 5, a_id) == ErrorCode.illegal_generation
    assert heartbeat(other, group, gen, "nobody") == ErrorCode.unknown_member_id
    assert heartbeat(other, "no-such-group-" + group, 1, a_id) == ErrorCode.unknown_member_id
    assert sync(other, group, gen + 1, a_id, {}).error_code == ErrorCode.illegal_generation
    assert sync(other, group, gen, "nobody", {}).error_code == ErrorCode.unknown_member_id

    tp0, tp1 = (topic_name, 0), (topic_name, 1)
    assert commit(other, group, gen, "nobody", {tp0: 1}) == {tp0: ErrorCode.unknown_member_id}
    assert commit(a, group, gen + 1, a_id, {tp0: 1}) == {tp0: ErrorCode.illegal_generation}
    # a commit without a generation is for groups with no members
    assert commit(other, group, -1, "", {tp0: 1}) == {tp0: ErrorCode.unknown_member_id}
    assert broker.committed(group) == {}
    # per partition: an unknown topic does not stop the others
    answer = commit(a, group, gen, a_id, {tp0: 3, tp1: 0, ("no-such-topic", 0): 1})
    assert answer == {
        tp0: ErrorCode.none,
        tp1: ErrorCode.none,
        ("no-such-topic", 0): ErrorCode.unknown_topic_or_partition,
    }
    assert broker.committed(group) == {
        TopicPartition(topic_name, 0): 3,
        TopicPartition(topic_name, 1): 0,
    }

    assert leave(a, group, a_id).members[0].error_code == ErrorCode.none
    assert heartbeat(a, group, gen, a_id) == ErrorCode.unknown_member_id
    assert leave(a, group, a_id).members[0].error_code == ErrorCode.unknown_member_id
    assert commit(other, group, -1, "", {tp0: 5}) == {tp0: ErrorCode.none}
    assert broker.committed(group)[TopicPartition(topic_name, 0)] == 5
    assert describe(other, group).group_state == "Empty"

    # OffsetFetch of every partition (topics null), and of named ones
    k = 9
    every = other.call(request(k, 7, "OffsetFetchRequest", group_id=group, topics=None))
    assert every.error_code == ErrorCode.none
    assert {
        (t.name, p.partition_index, p.committed_offset) for t in every.topics for p in t.partitions
    } == {
        (topic_name, 0, 5),
        (topic_name, 1, 0),
    }
    named = other.call(
        request(
            k,
            1,
            "OffsetFetchRequest",
            group_id=group,
            topics=(
                request(k, 1, "OffsetFetchRequestTopic", name=topic_name, partition_indexes=(1, 7)),
            ),
        )
    )
    assert [(p.partition_index, p.committed_offset) for p in named.topics[0].partitions] == [
        (1, 0),
        (7, -1),
    ]

    # out-of-bounds session timeouts, an empty group id
    too_short = other.call(join_request(group, session_ms=1000))
    assert too_short.error_code == ErrorCode.invalid_session_timeout
    assert other.call(join_request("")).error_code == ErrorCode.invalid_group_id


def test_old_versions_join_without_a_member_id_round_trip(
    raws: Callable[[], Raw], group: str
) -> None:
    raw = raws()
    joined = raw.call(join_request(group, version=2))  # v0-3: no MEMBER_ID_REQUIRED
    assert joined.error_code == ErrorCode.none
    assert joined.member_id and joined.leader == joined.member_id
    assert joined.protocol_name == "range"
    answer = raw.call(
        request(
            14,
            0,
            "SyncGroupRequest",
            group_id=group,
            generation_id=joined.generation_id,
            member_id=joined.member_id,
            assignments=(
                request(
                    14, 0, "SyncGroupRequestAssignment", member_id=joined.member_id, assignment=b"x"
                ),
            ),
        )
    )
    assert (answer.error_code, answer.assignment) == (ErrorCode.none, b"x")
    left = raw.call(request(13, 0, "LeaveGroupRequest", group_id=group, member_id=joined.member_id))
    assert left.error_code == ErrorCode.none
    again = raw.call(
        request(13, 0, "LeaveGroupRequest", group_id=group, member_id=joined.member_id)
    )
    assert again.error_code == ErrorCode.unknown_member_id


def test_kafka_clients_and_logway_consumers_do_not_share_a_group(
    raws: Callable[[], Raw], broker: Broker, topic_name: str, group: str
) -> None:
    broker.create_topic(topic_name, partitions=2)
    raw = raws()
    # logway consumers are members: a Kafka client is refused
    with broker.consumer(topic_name, group=group):
        refused = raw.call(join_request(group))
        assert refused.error_code == ErrorCode.inconsistent_group_protocol
    # once they left (the server learns it when their stream ends) Kafka clients may join
    answers: list[Any] = []

    def joined() -> bool:
        answers.append(raw.call(join_request(group)))
        return ErrorCode(answers[-1].error_code) == ErrorCode.member_id_required

    until(joined, "the logway consumer to leave the group")
    me = answers[-1].member_id
    assert raw.call(join_request(group, me)).error_code == ErrorCode.none

    # and while a Kafka client is a member, logway consumers are refused
    with pytest.raises(InvalidArgumentError, match="Kafka clients"):
        broker.consumer(topic_name, group=group)
    with pytest.raises(InvalidArgumentError, match="Kafka clients"):
        broker.reset_group(group, topic_name, "earliest")
    assert leave(raw, group, me).members[0].error_code == ErrorCode.none
    with broker.consumer(topic_name, group=group) as consumer:
        assert sorted(consumer.assignment()) == [
            TopicPartition(topic_name, 0),
            TopicPartition(topic_name, 1),
        ]


# --- real clients ----------------------------------------------------------------


def _confluent(bootstrap: str, group: str, **extra: Any) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": SESSION_MS,
            "heartbeat.interval.ms": 500,
            "max.poll.interval.ms": 30_000,
            "partition.assignment.strategy": "range",
            **extra,
        }
    )


def _produce(broker: Broker, topic: str, partitions: int, per_partition: int, tag: str) -> None:
    for p in range(partitions):
        broker.produce_many(
            topic, [f"{tag}-{p}-{i}".encode() for i in range(per_partition)], partition=p
        )


def _everything(broker: Broker, topic: str) -> set[tuple[int, int]]:
    starts, ends = broker.start_offsets(topic), broker.end_offsets(topic)
    return {(p, o) for p, end in ends.items() for o in range(starts[p], end)}


def _committed_all(broker: Broker, group: str, topic: str) -> bool:
    ends = broker.end_offsets(topic)
    committed = broker.committed(group, topic)
    return {tp.partition: o for tp, o in committed.items()} == ends


class Pump:
    """Polls confluent consumers in turn, committing each record it takes (a commit
    refused by a rebalance leaves the record to the partition's next owner)."""

    def __init__(self, consumers: list[Consumer]):
        self.consumers = consumers
        self.consumed: dict[tuple[int, int], bytes] = {}
        self.by: dict[tuple[int, int], int] = {}

    def __call__(self) -> None:
        for n, c in enumerate(self.consumers):
            msg = c.poll(0.05)
            if msg is None or msg.error():
                continue
            key = (msg.partition(), msg.offset())
            self.consumed[key] = msg.value()
            self.by[key] = n
            try:
                c.commit(message=msg, asynchronous=False)
            except KafkaException:
                pass

    def assignments(self) -> list[set[int]]:
        return [{tp.partition for tp in c.assignment()} for c in self.consumers]

    def each_partition_once(self, partitions: int) -> bool:
        sets = self.assignments()
        return (
            all(sets)
            and sum(len(s) for s in sets) == partitions
            and set().union(*sets) == set(range(partitions))
        )


@pytest.mark.slow
def test_confluent_group_shares_partitions_and_rebalances_for_a_new_member(
    bootstrap: str, broker: Broker, topic_name: str, group: str
) -> None:
    broker.create_topic(topic_name, partitions=6)
    _produce(broker, topic_name, 6, 10, "first")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    consumers = [_confluent(bootstrap, group) for _ in range(3)]
    try:
        for c in consumers:
            c.subscribe([topic_name])
        pump = Pump(consumers)
        until(lambda: pump.each_partition_once(6), "3 members to share 6 partitions", pump)
        assert sorted(len(s) for s in pump.assignments()) == [2, 2, 2]
        (described,) = admin.describe_consumer_groups([group]).values()
        description = described.result(WAIT)
        assert description.state == ConsumerGroupState.STABLE
        assert description.partition_assignor == "range"
        assert len(description.members) == 3
        assigned = [
            tp.partition for m in description.members for tp in m.assignment.topic_partitions
        ]
        assert sorted(assigned) == list(range(6))

        until(lambda: len(pump.consumed) == 60, "the first 60 records", pump)

        fourth = _confluent(bootstrap, group)
        consumers.append(fourth)
        fourth.subscribe([topic_name])
        _produce(broker, topic_name, 6, 10, "second")
        until(lambda: pump.each_partition_once(6), "4 members to share 6 partitions", pump)
        assert sorted(len(s) for s in pump.assignments()) == [1, 1, 2, 2]
        until(lambda: len(pump.consumed) == 120, "all 120 records", pump)
        until(lambda: _committed_all(broker, group, topic_name), "every offset committed", pump)
        assert set(pump.consumed) == _everything(broker, topic_name)
        assert 3 in pump.by.values()  # the new member read some
    finally:
        for c in consumers:
            c.close()
    (after,) = admin.describe_consumer_groups([group]).values()
    assert after.result(WAIT).state == ConsumerGroupState.EMPTY


MEMBER = """
import sys
from confluent_kafka import Consumer, KafkaException
bootstrap, group, topic = sys.argv[1:4]
c = Consumer({
    "bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
    "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
    "max.poll.interval.ms": 30000, "partition.assignment.strategy": "range",
})
c.subscribe([topic])
while True:
    msg = c.poll(0.1)
    if msg is None or msg.error():
        continue
    print(msg.partition(), msg.offset(), flush=True)  # told before committed
    try:
        c.commit(message=msg, asynchronous=False)
    except KafkaException:
        pass  # not committed: the partition's next owner reads it again
"""


@pytest.mark.slow
def test_a_killed_members_partitions_go_to_the_others_after_its_session_timeout(
    bootstrap: str, broker: Broker, topic_name: str, group: str
) -> None:
    broker.create_topic(topic_name, partitions=6)
    _produce(broker, topic_name, 6, 50, "before")
    consumers = [_confluent(bootstrap, group) for _ in range(2)]
    member = subprocess.Popen(
        [sys.executable, "-c", MEMBER, bootstrap, group, topic_name],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert member.stdout is not None
        for line in member.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    killed: set[tuple[int, int]] = set()  # read by the killed member
    other: list[str] = []  # anything else it printed, shown if the test fails

    def take_lines() -> None:
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                return
            fields = line.split()
            if len(fields) == 2 and all(f.isdigit() for f in fields):
                killed.add((int(fields[0]), int(fields[1])))
            else:
                other.append(line)

    try:
        for c in consumers:
            c.subscribe([topic_name])
        pump = Pump(consumers)

        def step() -> None:
            pump()
            take_lines()

        until(lambda: bool(killed), "the separate member to read a record", step)
        member.send_signal(signal.SIGKILL)
        member.wait(WAIT)
        reader.join(WAIT)
        take_lines()
        _produce(broker, topic_name, 6, 10, "after")
        # its session times out, the group rebalances, the two left share all six
        until(lambda: pump.each_partition_once(6), "the others to take its partitions", pump)
        everything = _everything(broker, topic_name)
        try:
            until(lambda: set(pump.consumed) | killed >= everything, "every record", pump)
        except AssertionError:
            missing = everything - set(pump.consumed) - killed
            raise AssertionError(
                f"missing {sorted(missing)[:20]} ({len(missing)}); the member also said "
                f"{other!r}; "
                f"committed {broker.committed(group, topic_name)}; "
                f"assignments {pump.assignments()}; "
                f"positions {[c.position(c.assignment()) for c in consumers]}"
            ) from None
        until(lambda: _committed_all(broker, group, topic_name), "every offset committed", pump)
        assert set(pump.consumed) | killed == everything  # none lost
        ends = broker.end_offsets(topic_name)
        committed = broker.committed(group, topic_name)
        assert {tp.partition: o for tp, o in committed.items()} == ends
        # what the group committed is where its readers stopped, partition by partition
        read = set(pump.consumed) | killed
        assert {p: max(o for q, o in read if q == p) + 1 for p in ends} == ends
    finally:
        if member.poll() is None:
            member.kill()
            member.wait()
        for c in consumers:
            c.close()


@pytest.mark.slow
def test_kafka_python_group_consumes_and_commits(
    bootstrap: str, broker: Broker, topic_name: str, group: str
) -> None:
    from kafka.errors import KafkaError as PyKafkaError

    from kafka import KafkaConsumer

    broker.create_topic(topic_name, partitions=4)
    _produce(broker, topic_name, 4, 25, "kp")
    everything = _everything(broker, topic_name)
    consumed: set[tuple[int, int]] = set()
    lock = threading.Lock()
    done = threading.Event()

    assigned: list[set[int]] = [set(), set()]

    def member(n: int) -> None:
        consumer = KafkaConsumer(
            topic_name,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=SESSION_MS,
            heartbeat_interval_ms=500,
        )
        try:
            while not done.is_set():
                batches = consumer.poll(timeout_ms=100)
                assigned[n].update(tp.partition for tp in consumer.assignment())
                with lock:
                    for records in batches.values():
                        consumed.update((r.partition, r.offset) for r in records)
                try:
                    consumer.commit()
                except PyKafkaError:
                    pass  # a rebalance: the next owner goes on from the last commit
        finally:
            consumer.close()

    threads = [threading.Thread(target=member, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    try:
        until(lambda: all(assigned), "both kafka-python members to get partitions")
        until(lambda: consumed >= everything, "kafka-python to read everything")
        until(lambda: _committed_all(broker, group, topic_name), "kafka-python's commits")
    finally:
        done.set()
        for t in threads:
            t.join(WAIT)
    assert consumed == everything


@pytest.mark.slow
def test_aiokafka_group_consumes_and_commits(
    bootstrap: str, broker: Broker, topic_name: str, group: str
) -> None:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError as AioKafkaError

    broker.create_topic(topic_name, partitions=4)
    _produce(broker, topic_name, 4, 25, "aio")
    everything = _everything(broker, topic_name)

    async def run() -> set[tuple[int, int]]:
        consumed: set[tuple[int, int]] = set()
        assigned: list[set[int]] = [set(), set()]
        done = asyncio.Event()

        async def member(n: int) -> None:
            consumer = AIOKafkaConsumer(
                topic_name,
                bootstrap_servers=bootstrap,
                group_id=group,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                session_timeout_ms=SESSION_MS,
                heartbeat_interval_ms=500,
            )
            await consumer.start()
            try:
                while not done.is_set():
                    batches = await consumer.getmany(timeout_ms=100)
                    assigned[n].update(tp.partition for tp in consumer.assignment())
                    for records in batches.values():
                        consumed.update((r.partition, r.offset) for r in records)
                    try:
                        await consumer.commit()
                    except AioKafkaError:
                        pass
            finally:
                await consumer.stop()

        async def finished() -> None:
            deadline = time.monotonic() + WAIT
            while not (
                all(assigned)
                and consumed >= everything
                and _committed_all(broker, group, topic_name)
            ):
                assert time.monotonic() < deadline, "aiokafka did not read and commit it all"
                await asyncio.sleep(0.05)
            done.set()

        await asyncio.gather(member(0), member(1), finished())
        return consumed

    assert asyncio.run(run()) == everything


def test_admin_lists_and_describes_groups_and_consumers_read_commits(
    bootstrap: str, broker: Broker, topic_name: str, group: str
) -> None:
    broker.create_topic(topic_name, partitions=2)
    _produce(broker, topic_name, 2, 3, "adm")
    only_offsets = f"{group}-offsets"
    broker.commit(only_offsets, {TopicPartition(topic_name, 0): 2})
    admin = AdminClient({"bootstrap.servers": bootstrap})
    consumer = _confluent(bootstrap, group, **{"client.id": "admin-test"})
    try:
        consumer.subscribe([topic_name])
        pump = Pump([consumer])
        until(lambda: pump.each_partition_once(2), "the consumer's assignment", pump)
        until(lambda: _committed_all(broker, group, topic_name), "its commits", pump)

        listed = admin.list_consumer_groups(request_timeout=WAIT).result(WAIT)
        states = {g.group_id: g for g in listed.valid}
        assert states[group].state == ConsumerGroupState.STABLE
        assert not states[group].is_simple_consumer_group
        assert states[only_offsets].state == ConsumerGroupState.EMPTY
        assert states[only_offsets].is_simple_consumer_group  # no protocol type
        stable = admin.list_consumer_groups(states={ConsumerGroupState.STABLE}).result(WAIT)
        ids = {g.group_id for g in stable.valid}
        assert group in ids and only_offsets not in ids

        described = admin.describe_consumer_groups([group, only_offsets, "no-such-" + group])
        mine = described[group].result(WAIT)
        (m,) = mine.members
        assert mine.state == ConsumerGroupState.STABLE
        assert m.client_id == "admin-test" and m.host == "/127.0.0.1"
        assert sorted(tp.partition for tp in m.assignment.topic_partitions) == [0, 1]
        assert described[only_offsets].result(WAIT).state == ConsumerGroupState.EMPTY
        assert described["no-such-" + group].result(WAIT).state == ConsumerGroupState.DEAD

        # OffsetFetch through the consumer
        asked = [KTopicPartition(topic_name, 0), KTopicPartition(topic_name, 1)]
        got = consumer.committed(asked, timeout=WAIT)
        assert [(tp.partition, tp.offset) for tp in got] == [(0, 3), (1, 3)]
    finally:
        consumer.close()
    other = _confluent(bootstrap, only_offsets)
    try:
        (tp,) = other.committed([KTopicPartition(topic_name, 0)], timeout=WAIT)
        assert tp.offset == 2
    finally:
        other.close()


def test_delete_groups(
    bootstrap: str, broker: Broker, topic_name: str, group: str, raws: Callable[[], Raw]
) -> None:
    broker.create_topic(topic_name, partitions=1)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    raw = raws()
    # a group only the coordinator knew (no commits) is deleted
    me, _ = form_group(raw, group)
    busy = admin.delete_consumer_groups([group])[group]
    with pytest.raises(KafkaException) as error:
        busy.result(WAIT)
    assert error.value.args[0].code() == KafkaError.NON_EMPTY_GROUP
    leave(raw, group, me)
    admin.delete_consumer_groups([group])[group].result(WAIT)
    assert describe(raw, group).group_state == "Dead"
    # a group with committed offsets cannot be: logway has no way to delete them
    stored = f"{group}-stored"
    broker.commit(stored, {TopicPartition(topic_name, 0): 0})
    with pytest.raises(KafkaException) as error:
        admin.delete_consumer_groups([stored])[stored].result(WAIT)
    assert error.value.args[0].code() == KafkaError.POLICY_VIOLATION
    assert stored in broker.list_groups()
    with pytest.raises(KafkaException) as error:
        admin.delete_consumer_groups(["no-such-" + group])["no-such-" + group].result(WAIT)
    assert error.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND


def test_parked_joins_end_when_the_listener_stops(tmp_path: Path) -> None:
    """A JoinGroup waiting for a rebalance (up to its 5-minute timeout here) is let go
    at once when the listener stops, so no request holds up a shutdown."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    with logway.connect(f"file:{tmp_path / 'data'}") as local:

        async def start() -> KafkaListener:
            listener = KafkaListener(local, port=0)
            await listener.start()
            return listener

        listener = asyncio.run_coroutine_threadsafe(start(), loop).result(WAIT)
        address = ("127.0.0.1", listener.port)
        a, b = Raw(address), Raw(address)
        group = "parked"
        slow = {"rebalance_ms": 300_000}
        try:
            a_id, gen = form_group(a, group, **slow)
            b_id = member_id(b, group, **slow)
            with ThreadPoolExecutor(1) as pool:
                parked = pool.submit(b.call, join_request(group, b_id, **slow))
                until(
                    lambda: heartbeat(a, group, gen, a_id) == ErrorCode.rebalance_in_progress,
                    "the rebalance",
                )
                started = time.monotonic()
                asyncio.run_coroutine_threadsafe(listener.stop(), loop).result(WAIT)

                async def unfinished() -> int:
                    tasks = asyncio.all_tasks() - {asyncio.current_task()}
                    if not tasks:
                        return 0
                    _, pending = await asyncio.wait(tasks, timeout=WAIT)
                    return len(pending)

                assert asyncio.run_coroutine_threadsafe(unfinished(), loop).result(WAIT * 2) == 0
                try:
                    answer = parked.result(WAIT)
                except OSError:
                    pass  # the connection closed first
                else:
                    assert answer.error_code == ErrorCode.coordinator_not_available
                assert time.monotonic() - started < WAIT
        finally:
            a.close()
            b.close()
            loop.call_soon_threadsafe(loop.stop)
            thread.join(WAIT)
            loop.close()
