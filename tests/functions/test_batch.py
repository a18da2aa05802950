"""The batch a handler gets, and the helpers on its records."""

from __future__ import annotations

import pytest

import logway
from logway.functions.batch import Batch
from logway.v1 import log_pb2 as pb


def test_a_batch_groups_its_records_by_topic_partition_in_order() -> None:
    records = [
        logway.Record("t", 1, 5, 0, None, b"a"),
        logway.Record("t", 0, 9, 0, None, b"b"),
        logway.Record("t", 1, 6, 0, None, b"c"),
    ]
    batch = Batch("f", records)
    assert len(batch) == 3 and list(batch) == records and batch[1] == records[1]
    assert batch.partitions == {
        logway.TopicPartition("t", 1): [records[0], records[2]],
        logway.TopicPartition("t", 0): [records[1]],
    }
    assert "t-1: 5..6" in repr(batch)


def test_records_decode_json_and_protobuf_values() -> None:
    header = pb.Header(key="k", value=b"v")
    proto = logway.Record("t", 0, 0, 0, None, header.SerializeToString())
    assert proto.decode(pb.Header) == header
    assert logway.Record("t", 0, 1, 0, None, b'{"n": [1, 2]}').json() == {"n": [1, 2]}
    assert logway.Record("t", 0, 2, 0, None, None).json() is None
    with pytest.raises(ValueError):
        logway.Record("t", 0, 3, 0, None, b"not json").json()
    two = [logway.Record("t", 0, i, 0, None, v) for i, v in enumerate([b"[]", b"3"])]
    assert Batch("f", two).json() == [[], 3]
