"""A topic's ``value_schema`` / ``key_schema`` through the Python API: records not in
the registry's wire format, framed with another subject's id, or not decodable with
their schema are refused with the record and the reason, and nothing of their batch
is stored; typed values are written in the wire format and read back."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import logway
from logway.errors import InvalidArgumentError, InvalidRecordError
from logway.records import Message
from logway.schemas.wire import frame, schema_id_of

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "microblog"))
from microblog.v1 import article_pb2 as pb

READING = {
    "type": "record",
    "name": "Reading",
    "fields": [{"name": "device", "type": "string"}, {"name": "temp", "type": "double"}],
}
ORDER = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"id": {"type": "integer"}},
    "required": ["id"],
}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[logway.Broker]:
    with logway.connect(f"file:{tmp_path}/data") as b:
        yield b


def _article(title: str = "hello") -> pb.Article:
    return pb.Article(id="a1", title=title, content="body", author="ada")


def _as_sent(message: object) -> tuple[str, bytes]:
    """A decoded message (of the registry's own class) as comparable data."""
    return message.DESCRIPTOR.full_name, message.SerializeToString(deterministic=True)  # type: ignore[attr-defined]


def test_a_typed_protobuf_value_is_written_in_the_wire_format_and_read_back(
    broker: logway.Broker,
) -> None:
    broker.create_topic("articles", value_schema="articles-value")
    broker.produce("articles", _article())
    (record,) = broker.fetch("articles", 0, 0)
    schema = broker.schemas.get("articles-value")
    assert schema_id_of(record.value) == schema.id
    assert record.value[5:6] == b"\x00"  # Article is the file's first message
    assert _as_sent(broker.schemas.decode(record.value)) == _as_sent(_article())
    assert record.decode(pb.Article) == _article()
    assert _as_sent(record.decode()) == _as_sent(_article())


def test_the_subject_defaults_to_the_topic_name_strategy(broker: logway.Broker) -> None:
    broker.create_topic("plain")
    broker.produce("plain", _article(), key=_article("k"))
    assert broker.schemas.subjects() == ["plain-key", "plain-value"]


@pytest.mark.parametrize(
    "bad, why",
    [
        (b"not framed", "not the magic byte 0"),
        (b"\x00\x00", "wire format"),
        (frame(999, b"\x00"), "schema id 999, which is not a version"),
        (frame(1, b"\x00\xff\xff\xff\xff"), "does not decode as microblog.v1.Article"),
        (frame(1, b"\x02\x0a", None), "indexes [5], which name no message"),
    ],
)
def test_a_bad_record_refuses_its_whole_batch(broker: logway.Broker, bad: bytes, why: str) -> None:
    broker.create_topic("articles", partitions=2, value_schema="articles-value")
    good = broker.schemas.encode("articles-value", _article())
    with pytest.raises(InvalidRecordError) as caught:
        broker.produce_many("articles", [Message(good, b"k1"), Message(bad, b"k2"), good])
    message = str(caught.value)
    assert "record 1 of the batch for topic 'articles'" in message
    assert why in message
    assert "nothing of the batch was stored" in message
    assert broker.end_offsets("articles") == {0: 0, 1: 0}
    assert isinstance(caught.value, InvalidArgumentError)


def test_an_id_of_another_subject_is_refused(broker: logway.Broker) -> None:
    broker.create_topic("articles", value_schema="articles-value")
    broker.schemas.encode("articles-value", _article())
    other = broker.schemas.encode("readings-value", {"device": "d", "temp": 1.0}, READING)
    with pytest.raises(InvalidRecordError, match="not a version of subject 'articles-value'"):
        broker.produce("articles", other)
    assert broker.end_offsets("articles") == {0: 0}


def test_keys_are_checked_against_key_schema(broker: logway.Broker) -> None:
    broker.create_topic("readings", key_schema="readings-key")
    key = broker.schemas.encode("readings-key", {"device": "d1", "temp": 0.5}, READING)
    broker.produce("readings", b"any value", key=key)
    with pytest.raises(InvalidRecordError, match="its key is not in the schema registry"):
        broker.produce("readings", b"any value", key=b"d1")
    with pytest.raises(InvalidRecordError, match="its key"):
        broker.produce("readings", b"any value")  # no key at all
    assert broker.end_offsets("readings") == {0: 1}


def test_avro_values_are_decoded_every_byte(broker: logway.Broker) -> None:
    broker.create_topic("readings", value_schema="readings-value")
    data = broker.schemas.encode("readings-value", {"device": "d1", "temp": 21.5}, READING)
    broker.produce("readings", data)
    assert broker.schemas.decode(broker.fetch("readings", 0, 0)[0].value) == {
        "device": "d1",
        "temp": 21.5,
    }
    with pytest.raises(InvalidRecordError, match="left after the datum"):
        broker.produce("readings", data + b"\x00")
    with pytest.raises(InvalidRecordError, match="does not decode with the Avro schema"):
        broker.produce("readings", data[:-3])
    assert broker.end_offsets("readings") == {0: 1}


def test_json_values_must_match_their_schema(broker: logway.Broker) -> None:
    broker.create_topic("orders", value_schema="orders-value")
    data = broker.schemas.encode("orders-value", {"id": 7}, ORDER)
    broker.produce("orders", data)
    schema_id = schema_id_of(data)
    with pytest.raises(InvalidRecordError, match="does not match the JSON schema at id"):
        broker.produce("orders", frame(schema_id, json.dumps({"id": "seven"}).encode()))
    with pytest.raises(InvalidRecordError, match="is not JSON"):
        broker.produce("orders", frame(schema_id, b"{nope"))
    with pytest.raises(InvalidRecordError, match="does not match"):
        broker.schemas.encode("orders-value", {"name": "x"})  # checked before writing too
    assert broker.end_offsets("orders") == {0: 1}


def test_raw_batches_as_a_kafka_client_sends_them_are_checked(broker: logway.Broker) -> None:
    from logway.broker import append_batches
    from logway.recordbatch.codec import encode_wire
    from logway.records import Record

    broker.create_topic("articles", value_schema="articles-value")
    good = broker.schemas.encode("articles-value", _article())
    records = [Record("articles", 0, i, 0, None, v) for i, v in enumerate([good, b"bad"])]
    with pytest.raises(InvalidRecordError, match="record 1 of the batch"):
        append_batches(broker, "articles", 0, encode_wire(records))
    assert broker.end_offsets("articles") == {0: 0}
    append_batches(broker, "articles", 0, encode_wire(records[:1]))
    assert broker.end_offsets("articles") == {0: 1}


def test_a_new_compatible_version_is_accepted_and_old_records_still_read(
    broker: logway.Broker,
) -> None:
    broker.create_topic("readings", value_schema="readings-value")
    v1 = broker.schemas.encode("readings-value", {"device": "d", "temp": 1.0}, READING)
    v2_schema = {
        **READING,
        "fields": [*READING["fields"], {"name": "unit", "type": "string", "default": "C"}],
    }
    v2 = broker.schemas.encode(
        "readings-value", {"device": "d", "temp": 2.0, "unit": "F"}, v2_schema
    )
    broker.produce_many("readings", [v1, v2])
    assert schema_id_of(v1) != schema_id_of(v2)
    assert broker.schemas.versions("readings-value") == [1, 2]
    values = [broker.schemas.decode(r.value) for r in broker.fetch("readings", 0, 0)]
    assert values == [{"device": "d", "temp": 1.0}, {"device": "d", "temp": 2.0, "unit": "F"}]


def test_the_setting_is_refused_when_it_names_no_subject(broker: logway.Broker) -> None:
    with pytest.raises(InvalidArgumentError, match="value_schema names a schema registry subject"):
        broker.create_topic("t", value_schema="   ")
    assert "t" not in broker.list_topics()
    info = broker.create_topic("t", **{"value.schema.subject": "t-value"})
    assert info.config["value_schema"] == "t-value"


def test_the_setting_survives_a_restart(tmp_path: Path) -> None:
    with logway.connect(f"file:{tmp_path}/d") as b:
        b.create_topic("articles", value_schema="articles-value")
        b.produce("articles", _article())
    with logway.connect(f"file:{tmp_path}/d") as b:
        with pytest.raises(InvalidRecordError):
            b.produce("articles", b"raw")
        b.produce("articles", _article("again"))
        assert [r.decode(pb.Article) for r in b.fetch("articles", 0, 0)] == [
            _article(),
            _article("again"),
        ]
