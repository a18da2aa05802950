"""A Parquet delivery of values in the schema registry's wire format — a topic with a
``value_schema``, or ``schema="registry"`` — decodes each value with the schema its
id names and writes columns typed from that schema: Protobuf and Avro types as
Arrow types, versions of a schema united by column name, and a value that does not
decode under the error prefix as ``format-conversion-failed``, never in the lake."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import decimal
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import logway
from logway.cli.main import main as cli
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec
from logway.errors import InvalidArgumentError
from logway.lake import Lake
from logway.schemas.wire import frame

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "microblog"))
from microblog.v1 import article_pb2 as pb

T0 = 1_795_000_000_000  # 2026-11-18, ms
ORDER_PROTO = """
syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";

message Order {
  enum Status { STATUS_UNSPECIFIED = 0; PAID = 1; SHIPPED = 2; }
  message Line { string sku = 1; int32 qty = 2; }
  message Node { string label = 1; repeated Node children = 2; }
  string id = 1;
  sint64 total_cents = 2;
  double weight = 3;
  float ratio = 4;
  bool gift = 5;
  bytes blob = 6;
  uint64 big = 7;
  Status status = 8;
  Line first = 9;
  repeated Line lines = 10;
  repeated string tags = 11;
  map<string, int32> counts = 12;
  google.protobuf.Timestamp placed_at = 13;
  optional string note = 14;
  google.protobuf.Int32Value rating = 15;
  google.protobuf.Struct extra = 16;
  Node tree = 17;
}
"""
READING = {
    "type": "record",
    "name": "Reading",
    "namespace": "iot",
    "fields": [{"name": "device", "type": "string"}, {"name": "temp", "type": "double"}],
}
READING_V2 = {  # a field added with a default: BACKWARD compatible
    **READING,
    "fields": [*READING["fields"], {"name": "unit", "type": ["null", "string"], "default": None}],
}
EVENT = {
    "type": "record",
    "name": "Event",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "count", "type": "int"},
        {"name": "ratio", "type": "float"},
        {"name": "ok", "type": "boolean"},
        {"name": "raw", "type": "bytes"},
        {"name": "note", "type": ["null", "string"]},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {
            "name": "where",
            "type": {
                "type": "record",
                "name": "Place",
                "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": "int"}],
            },
        },
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "at_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {
            "name": "price",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
        },
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "either", "type": ["null", "string", "long"]},
        {
            "name": "tree",
            "type": {
                "type": "record",
                "name": "Tree",
                "fields": [
                    {"name": "label", "type": "string"},
                    {"name": "kids", "type": {"type": "array", "items": "Tree"}},
                ],
            },
        },
    ],
}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[logway.Broker]:
    with logway.connect(f"file:{tmp_path / 'data'}") as b:
        yield b


def _deliver(broker: logway.Broker, topic: str, lake: Path, **settings: Any) -> DeliveryRunner:
    spec = DeliverySpec(topic, topic, DeliverySettings.build(str(lake / topic), **settings))
    runner = DeliveryRunner(broker, "typed", spec, until_end=True)
    asyncio.run(runner.run(asyncio.Event()))
    return runner


def _parquet(lake: Path) -> list[pa.Table]:
    return [pq.read_table(p) for p in sorted(lake.rglob("*.parquet"))]


def _errors(lake: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (str(path.relative_to(lake)), json.loads(line))
        for path in sorted(lake.rglob("errors/**/*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


def _types(table: pa.Table) -> dict[str, str]:
    return {f.name: str(f.type) for f in table.schema if not f.name.startswith("_")}


def test_a_protobuf_topic_with_a_value_schema_is_delivered_as_typed_columns(
    broker: logway.Broker, tmp_path: Path
) -> None:
    broker.create_topic("articles", value_schema="articles-value")
    for n in range(3):
        article = pb.Article(id=f"a{n}", title=f"t{n}", content="body", author="ada")
        broker.produce("articles", article, timestamp=T0 + n)
    runner = _deliver(broker, "articles", tmp_path / "lake")  # no schema= given
    assert runner.stats.records_delivered == 3, runner.status()
    (table,) = _parquet(tmp_path / "lake")
    types = _types(table)
    assert list(types) == [f.name for f in pb.Article.DESCRIPTOR.fields]  # the contract's
    assert (types["id"], types["title"], types["created_at"]) == ("string", "string", "int64")
    assert table.column("title").to_pylist() == ["t0", "t1", "t2"]
    assert table.column("_offset").to_pylist() == [0, 1, 2]
    schema_id = broker.schemas.get("articles-value").id
    assert table.schema.metadata[b"logway.schema_ids"] == str(schema_id).encode()
    with Lake(str(tmp_path / "lake")) as lake:
        rows = lake.query("SELECT id, author FROM lake('articles') ORDER BY id").rows
    assert rows == [("a0", "ada"), ("a1", "ada"), ("a2", "ada")]


def test_protobuf_fields_become_arrow_types(broker: logway.Broker, tmp_path: Path) -> None:
    broker.create_topic("orders", value_schema="orders-value")
    broker.schemas.set_compatibility("NONE", "orders-value")
    schema = broker.schemas.register("orders-value", ORDER_PROTO, "PROTOBUF")
    order = broker.schemas.codec(schema.id).message_class((0,))
    full = order(id="o1", total_cents=-1250, weight=1.5, ratio=0.5, gift=True, blob=b"\x00\xff")
    full.big, full.status, full.note = 2**64 - 1, 2, "leave at door"
    full.first.sku, full.first.qty = "s1", 2
    full.lines.add(sku="s1", qty=2)
    full.lines.add(sku="s2", qty=1)
    full.tags.extend(["x", "y"])
    full.counts["a"] = 1
    full.placed_at.seconds, full.placed_at.nanos = 1_795_000_000, 123_456_000
    full.rating.value = 4
    full.extra.update({"color": "red", "n": 2})
    full.tree.label = "root"
    full.tree.children.add(label="leaf")
    empty = order(id="o2")  # defaults, and nothing set that has presence
    broker.produce_many(
        "orders", [frame(schema.id, m.SerializeToString(), (0,)) for m in (full, empty)]
    )
    runner = _deliver(broker, "orders", tmp_path / "lake")
    assert runner.stats.records_delivered == 2, runner.status()
    (table,) = _parquet(tmp_path / "lake")
    assert _types(table) == {
        "id": "string",
        "total_cents": "int64",
        "weight": "double",
        "ratio": "float",
        "gift": "bool",
        "blob": "binary",
        "big": "uint64",
        "status": "string",
        "first": "struct<sku: string, qty: int32>",
        "lines": "list<element: struct<sku: string, qty: int32>>",
        "tags": "list<element: string>",
        "counts": "map<string, int32 ('counts')>",
        "placed_at": "timestamp[us, tz=UTC]",
        "note": "string",
        "rating": "int32",
        "extra": "string",  # a Struct is JSON text
        "tree": "struct<label: string, children: list<element: string>>",  # recursion: JSON
    }
    first, second = table.to_pylist()
    assert {k: v for k, v in first.items() if not k.startswith("_")} == {
        "id": "o1",
        "total_cents": -1250,
        "weight": 1.5,
        "ratio": 0.5,
        "gift": True,
        "blob": b"\x00\xff",
        "big": 2**64 - 1,
        "status": "SHIPPED",
        "first": {"sku": "s1", "qty": 2},
        "lines": [{"sku": "s1", "qty": 2}, {"sku": "s2", "qty": 1}],
        "tags": ["x", "y"],
        "counts": [("a", 1)],
        "placed_at": dt.datetime(2026, 11, 18, 11, 6, 40, 123456, tzinfo=dt.UTC),
        "note": "leave at door",
        "rating": 4,
        "extra": '{"color":"red","n":2.0}',
        "tree": {"label": "root", "children": ['{"label":"leaf"}']},
    }
    assert second["status"] == "STATUS_UNSPECIFIED" and second["total_cents"] == 0
    assert [second[k] for k in ("first", "placed_at", "note", "rating", "extra", "tree")] == [
        None
    ] * 6
    assert (second["lines"], second["counts"]) == ([], [])


def test_avro_types_become_arrow_types(broker: logway.Broker, tmp_path: Path) -> None:
    broker.create_topic("events", value_schema="events-value")
    at = dt.datetime(2026, 11, 18, 12, 0, 1, 250_000, tzinfo=dt.UTC)
    value = {
        "id": 2**40,
        "count": 7,
        "ratio": 0.25,
        "ok": True,
        "raw": b"\x01\x02",
        "note": None,
        "kind": "B",
        "tags": ["a", "b"],
        "attrs": {"x": 1},
        "where": {"city": "Lyon", "zip": 69001},
        "day": dt.date(2026, 11, 18),
        "at": at,
        "at_us": at,
        "price": decimal.Decimal("12.34"),
        "hash": b"abcd",
        "either": 5,
        "tree": {"label": "root", "kids": [{"label": "leaf", "kids": []}]},
    }
    broker.produce("events", broker.schemas.encode("events-value", value, EVENT))
    runner = _deliver(broker, "events", tmp_path / "lake")
    assert runner.stats.records_delivered == 1, runner.status()
    (table,) = _parquet(tmp_path / "lake")
    assert _types(table) == {
        "id": "int64",
        "count": "int32",
        "ratio": "float",
        "ok": "bool",
        "raw": "binary",
        "note": "string",
        "kind": "string",
        "tags": "list<element: string>",
        "attrs": "map<string, int64 ('attrs')>",
        "where": "struct<city: string, zip: int32>",
        "day": "date32[day]",
        "at": "timestamp[ms, tz=UTC]",
        "at_us": "timestamp[us, tz=UTC]",
        "price": "decimal128(9, 2)",
        "hash": "fixed_size_binary[4]",
        "either": "string",  # a union of several types is JSON text
        "tree": "struct<label: string, kids: list<element: string>>",  # recursion: JSON
    }
    (row,) = table.to_pylist()
    assert {k: v for k, v in row.items() if not k.startswith("_")} == {
        **value,
        "attrs": [("x", 1)],
        "either": "5",
        "tree": {"label": "root", "kids": ['{"label":"leaf","kids":[]}']},
    }


def test_a_schema_that_is_not_a_record_is_one_column_and_json_schema_data_is_typed_by_data(
    broker: logway.Broker, tmp_path: Path
) -> None:
    broker.create_topic("words", value_schema="words-value")
    broker.produce_many(
        "words", [broker.schemas.encode("words-value", w, {"type": "string"}) for w in "ab"]
    )
    order = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    broker.create_topic("orders", value_schema="orders-value")
    broker.schemas.set_compatibility("NONE", "orders-value")
    array = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array"}
    broker.produce_many(
        "orders",
        [
            broker.schemas.encode("orders-value", {"id": 7}, order),
            broker.schemas.encode("orders-value", [7], array),  # no row of columns
        ],
    )
    for topic in ("words", "orders"):
        assert _deliver(broker, topic, tmp_path / "lake").stats.records_delivered >= 1
    ((_, error),) = _errors(tmp_path / "lake")
    assert (error["offset"], error["errorMessage"]) == (
        1,
        "the value is an array; Parquet rows are objects",
    )
    words, orders = (_parquet(tmp_path / "lake" / topic)[0] for topic in ("words", "orders"))
    assert (_types(words), words.column("value").to_pylist()) == ({"value": "string"}, ["a", "b"])
    assert (_types(orders), orders.column("id").to_pylist()) == ({"id": "int64"}, [7])


def test_a_new_schema_version_in_the_same_delivery_unites_the_columns(
    broker: logway.Broker, tmp_path: Path
) -> None:
    broker.create_topic("readings", value_schema="readings-value")
    v1 = broker.schemas.encode("readings-value", {"device": "d1", "temp": 20.5}, READING)
    v2 = broker.schemas.encode(
        "readings-value", {"device": "d2", "temp": 21.0, "unit": "C"}, READING_V2
    )
    broker.produce_many("readings", [v1, v2, v1])
    runner = _deliver(broker, "readings", tmp_path / "lake")
    assert runner.stats.records_delivered == 3, runner.status()
    (table,) = _parquet(tmp_path / "lake")  # one file: the union of both versions
    assert _types(table) == {"device": "string", "temp": "double", "unit": "string"}
    assert [(r["device"], r["unit"], r["_offset"]) for r in table.to_pylist()] == [
        ("d1", None, 0),
        ("d2", "C", 1),
        ("d1", None, 2),
    ]
    ids = broker.schemas.versions("readings-value")
    assert len(ids) == 2
    assert table.schema.metadata[b"logway.schema_ids"] == b"1,2"
    with Lake(str(tmp_path / "lake")) as lake:
        rows = lake.query("SELECT count(unit), count(*) FROM lake('readings')").rows
    assert rows == [(1, 3)]


def test_a_new_protobuf_field_is_a_new_column_null_for_older_rows(
    broker: logway.Broker, tmp_path: Path
) -> None:
    broker.create_topic("notes", value_schema="notes-value")
    old = 'syntax = "proto3"; message Note { string text = 1; }'
    new = 'syntax = "proto3"; message Note { string text = 1; optional int64 stars = 2; }'
    values = []
    for text, proto in (("a", old), ("b", new)):
        schema = broker.schemas.register("notes-value", proto, "PROTOBUF")
        note = broker.schemas.codec(schema.id).message_class((0,))(text=text)
        if text == "b":
            note.stars = 5
        values.append(frame(schema.id, note.SerializeToString(), (0,)))
    broker.produce_many("notes", values)
    _deliver(broker, "notes", tmp_path / "lake")
    (table,) = _parquet(tmp_path / "lake")
    assert _types(table) == {"text": "string", "stars": "int64"}
    assert table.column("stars").to_pylist() == [None, 5]


def test_versions_whose_columns_do_not_unite_get_files_of_their_own(
    broker: logway.Broker, tmp_path: Path
) -> None:
    broker.create_topic("readings", value_schema="readings-value")
    broker.schemas.set_compatibility("NONE", "readings-value")
    as_text = {**READING, "fields": [{"name": "device", "type": "long"}]}
    broker.produce_many(
        "readings",
        [
            broker.schemas.encode("readings-value", {"device": "d1", "temp": 1.0}, READING),
            broker.schemas.encode("readings-value", {"device": 7}, as_text),
        ],
    )
    runner = _deliver(broker, "readings", tmp_path / "lake")
    assert runner.stats.records_delivered == 2, runner.status()
    tables = _parquet(tmp_path / "lake")
    assert sorted(_types(t)["device"] for t in tables) == ["int64", "string"]
    assert sorted(t.column("_offset").to_pylist()[0] for t in tables) == [0, 1]


def test_a_value_that_does_not_decode_goes_under_the_error_prefix(
    broker: logway.Broker, tmp_path: Path
) -> None:
    broker.create_topic("readings")  # no value_schema: the delivery is told
    good = broker.schemas.encode("readings-value", {"device": "d1", "temp": 1.0}, READING)
    schema_id = broker.schemas.get("readings-value").id
    bad = [
        (b'{"device": "d2"}', "not in the schema registry's wire format"),
        (frame(999, b"\x02d1"), "schema id 999, which names no schema"),
        (frame(schema_id, b"\x04d1\x00"), "does not decode with the Avro schema"),
    ]
    broker.produce_many("readings", [good, *(value for value, _ in bad), good])
    runner = _deliver(broker, "readings", tmp_path / "lake", schema="registry")
    assert (runner.stats.records_delivered, runner.stats.records_failed) == (2, 3)
    (table,) = _parquet(tmp_path / "lake")
    assert table.column("_offset").to_pylist() == [0, 4]
    errors = _errors(tmp_path / "lake")
    assert [e["offset"] for _, e in errors] == [1, 2, 3]
    for (path, error), (value, why) in zip(errors, bad, strict=True):
        assert path.startswith("readings/errors/format-conversion-failed/")
        assert error["errorCode"] == "format-conversion-failed"
        assert why in error["errorMessage"]
        assert base64.b64decode(error["rawData"]) == value


def test_the_setting_is_checked_when_declared(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="JSON lines hold the values as they are"):
        DeliverySettings.build(str(tmp_path), format="jsonl", schema=pb.Article)
    assert DeliverySettings.build(str(tmp_path), format="jsonl", schema="registry").schema
    with pytest.raises(InvalidArgumentError, match="'registry' for values in the schema"):
        DeliverySettings.build(str(tmp_path), schema="avro")
    assert DeliverySettings.build(str(tmp_path), schema="registry").schema == "registry"


def test_logway_deliver_takes_schema_registry(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'data'}"
    with logway.connect(url) as broker:
        broker.create_topic("readings")
        value = broker.schemas.encode("readings-value", {"device": "d1", "temp": 1.0}, READING)
        broker.produce("readings", value)
    lake = tmp_path / "lake" / "readings"
    args = ["--url", url, "deliver", "readings", str(lake), "--schema", "registry", "--once"]
    assert cli(args) == 0
    (table,) = _parquet(lake)
    assert _types(table) == {"device": "string", "temp": "double"}


def test_json_lines_of_registry_values_are_the_decoded_values(
    broker: logway.Broker, tmp_path: Path
) -> None:
    broker.create_topic("articles", value_schema="articles-value")
    for n in range(2):
        article = pb.Article(id=f"a{n}", title=f"t{n}", content="body", author="ada")
        broker.produce("articles", article, timestamp=T0 + n)
    runner = _deliver(broker, "articles", tmp_path / "lake", format="jsonl")  # no schema=
    assert runner.stats.records_delivered == 2, runner.status()
    with Lake(str(tmp_path / "lake")) as lake:
        rows = lake.query("SELECT id, title FROM lake_json('articles') ORDER BY id").rows
    assert rows == [("a0", "t0"), ("a1", "t1")]
    broker.create_topic("readings")
    good = broker.schemas.encode("readings-value", {"device": "d1", "temp": 1.0}, READING)
    broker.produce_many("readings", [good, b"not framed"])
    runner = _deliver(broker, "readings", tmp_path / "lake2", format="jsonl", schema="registry")
    assert (runner.stats.records_delivered, runner.stats.records_failed) == (1, 1)
    errors = _errors(tmp_path / "lake2")
    assert [e["offset"] for _, e in errors] == [1]
    assert "does not decode" in errors[0][1]["errorMessage"]
