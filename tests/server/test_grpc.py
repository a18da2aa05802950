"""The gRPC port of a real ``logway serve``: Subscribe semantics and shutdown."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import grpc
import pytest

import logway
from logway.v1 import log_pb2 as pb
from logway.v1 import log_pb2_grpc
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process


def _stub(server: LogwayServer) -> log_pb2_grpc.LogStub:
    return log_pb2_grpc.LogStub(grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}"))


@pytest.fixture
def topic(server: LogwayServer) -> str:
    name = f"g-{uuid.uuid4().hex[:8]}"
    with logway.connect(server.url) as broker:
        broker.create_topic(name, partitions=2)
    return name


def test_subscribe_replays_then_tails_with_heartbeats(server: LogwayServer, topic: str) -> None:
    with logway.connect(server.url) as broker:
        broker.produce_many(topic, [b"a", b"b"], partition=1)
        stream = _stub(server).Subscribe(
            pb.SubscribeRequest(topic=topic, position=pb.POSITION_EARLIEST, heartbeat_ms=100)
        )
        first = next(stream)
        assert [(r.partition, r.offset, r.value) for r in first.records] == [
            (1, 0, b"a"),
            (1, 1, b"b"),
        ]
        beat = next(stream)
        assert not beat.records and dict(beat.heartbeat.end_offsets) == {0: 0, 1: 2}
        assert beat.heartbeat.server_time > 0
        broker.produce(topic, b"live", partition=0)
        live = next(r for r in stream if r.records)
        assert [(r.topic, r.partition, r.offset, r.value) for r in live.records] == [
            (topic, 0, 0, b"live")
        ]
        assert live.records[0].timestamp > 0
        stream.cancel()


def test_subscribe_from_group_offsets_and_timestamps(server: LogwayServer, topic: str) -> None:
    with logway.connect(server.url) as broker:
        broker.produce_many(
            topic, [logway.Message(f"v{i}", timestamp=1000 * i) for i in range(6)], partition=0
        )
        broker.commit("subs", {logway.TopicPartition(topic, 0): 4})
    stub = _stub(server)
    by_group = next(stub.Subscribe(pb.SubscribeRequest(topic=topic, group="subs", partitions=[0])))
    assert [r.offset for r in by_group.records] == [4, 5]
    by_time = next(stub.Subscribe(pb.SubscribeRequest(topic=topic, timestamp=2500, partitions=[0])))
    assert [r.offset for r in by_time.records] == [3, 4, 5]
    resumed = next(stub.Subscribe(pb.SubscribeRequest(topic=topic, offsets={0: 5}, partitions=[0])))
    assert [r.offset for r in resumed.records] == [5]


def test_subscribe_out_of_range_is_an_explicit_error(server: LogwayServer, topic: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        next(_stub(server).Subscribe(pb.SubscribeRequest(topic=topic, offset=10)))
    assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "out of range" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        next(_stub(server).Subscribe(pb.SubscribeRequest(topic="nope")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_sigterm_ends_streams_with_a_status_and_keeps_acknowledged_records(tmp_path: Path) -> None:
    server = LogwayServer(tmp_path / "data")
    server.start()
    with logway.connect(server.url) as broker:
        broker.create_topic("t")
        acked = [m.offset for m in broker.produce_many("t", [f"r{i}" for i in range(100)])]
        stream = _stub(server).Subscribe(pb.SubscribeRequest(topic="t", heartbeat_ms=50))
        assert len(next(stream).records) == 100
        ended: list[grpc.StatusCode] = []

        def drain() -> None:
            try:
                for _ in stream:
                    pass
            except grpc.RpcError as exc:
                ended.append(exc.code())

        reader = threading.Thread(target=drain)
        reader.start()
        assert server.stop() == 0, "".join(server.output)
        reader.join(30)
        assert not reader.is_alive()
        assert ended and ended[0] in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.CANCELLED,
            grpc.StatusCode.ABORTED,
        )
    server.start()
    try:
        with logway.connect(server.url) as broker:
            records = broker.fetch("t", 0, 0, max_records=1000)
            assert [r.offset for r in records] == acked
    finally:
        assert server.stop() == 0
