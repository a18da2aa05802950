"""Delivery streams on every backend: records into Parquet and JSONL files under
Hive-style prefixes, transforms, error output, buffering, and exactly-once files
after a crash between writing and committing."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import logway
from logway.delivery import Dropped, Ok, ProcessingFailed
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec
from logway.errors import InvalidArgumentError
from logway.records import Message

DEADLINE = 30.0
HOUR_MS = 3_600_000
T0 = int(dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC).timestamp() * 1000)
# the records' times are fixed, so the topics keep them forever: retention (7 days by
# default) would otherwise delete them as the calendar moves past T0
KEEP = {"retention_ms": -1}


def run_delivery(
    broker: logway.Broker,
    spec: DeliverySpec,
    until: Callable[[DeliveryRunner], bool],
    runner_class: type[DeliveryRunner] = DeliveryRunner,
) -> DeliveryRunner:
    """Run one delivery until ``until(runner)`` holds (checked as it runs, with a deadline),
    then stop it the way SIGTERM does."""
    runner = runner_class(broker, "lake", spec)

    async def scenario() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(runner.run(stopping))
        end = time.monotonic() + DEADLINE
        while not until(runner):
            if task.done():
                task.result()
                raise AssertionError("the delivery stopped by itself")
            assert time.monotonic() < end, f"the condition did not hold in time: {runner.status()}"
            await asyncio.sleep(0.01)  # the runner works meanwhile
        stopping.set()
        await task

    asyncio.run(scenario())
    return runner


def committed_to(
    broker: logway.Broker, topic: str, ends: dict[int, int]
) -> Callable[[DeliveryRunner], bool]:
    def check(_runner: DeliveryRunner) -> bool:
        done = broker.committed(f"lake.{topic}", topic)
        return all(done.get(logway.TopicPartition(topic, p)) == n for p, n in ends.items())

    return check


def spec(topic: str, to: str, **settings: Any) -> DeliverySpec:
    settings.setdefault("buffer_interval", 0)
    return DeliverySpec(topic, topic, DeliverySettings.build(to, **settings))


def files(root: Path, suffix: str = "") -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob(f"*{suffix}")
        if p.is_file() and "_logway" not in p.parts
    )


def produce_json(broker: logway.Broker, topic: str, rows: list[tuple[int, dict[str, Any]]]) -> None:
    broker.produce_many(
        topic,
        [
            Message(json.dumps(row).encode(), f"k{i}".encode(), (), 0, ts)
            for i, (ts, row) in enumerate(rows)
        ],
    )


def read_parquet_rows(root: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in files(root, ".parquet"):
        rows += pq.read_table(root / name).to_pylist()
    return sorted(rows, key=lambda r: (r["_partition"], r["_offset"]))


def test_parquet_under_hive_prefixes_with_record_columns(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    broker.create_topic(topic, **KEEP)
    produce_json(
        broker,
        topic,
        [
            (T0 + 1, {"title": "a", "n": 1}),
            (T0 + 2, {"title": "b", "n": 2}),
            (T0 + HOUR_MS, {"title": "c", "n": 3}),
        ],
    )
    lake = tmp_path / "lake"
    run_delivery(broker, spec(topic, f"file:{lake}"), committed_to(broker, topic, {0: 3}))
    names = files(lake)
    assert [n.rsplit("/", 1)[0] for n in names] == [
        "year=2026/month=11/day=23/hour=15",
        "year=2026/month=11/day=23/hour=16",
    ]
    first = names[0].rsplit("/", 1)[1]
    assert first.startswith(f"{topic}+0+{0:020d}+{1:020d}+") and first.endswith(".parquet")
    assert names[1].rsplit("/", 1)[1].startswith(f"{topic}+0+{2:020d}+{2:020d}+")
    rows = read_parquet_rows(lake)
    assert [(r["title"], r["n"], r["_offset"], r["_key"]) for r in rows] == [
        ("a", 1, 0, "k0"),
        ("b", 2, 1, "k1"),
        ("c", 3, 2, "k2"),
    ]
    assert rows[0]["_topic"] == topic and rows[0]["_partition"] == 0
    assert rows[2]["_timestamp"] == dt.datetime.fromtimestamp((T0 + HOUR_MS) / 1000, dt.UTC)


def test_jsonl_compressed_and_dynamic_prefix_with_errors(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    broker.create_topic(topic, **KEEP)
    produce_json(
        broker,
        topic,
        [
            (T0, {"customer_id": 7, "x": 1}),
            (T0, {"customer_id": "a/b", "x": 2}),
            (T0, {"x": 3}),
            (T0, {"customer_id": 7, "x": 4}),
        ],
    )
    lake = tmp_path / "lake"
    settings = {
        "format": "jsonl",
        "compression": "gzip",
        "prefix": "customer_id={value.customer_id}/{year}/",
    }
    run_delivery(broker, spec(topic, str(lake), **settings), committed_to(broker, topic, {0: 4}))
    names = files(lake)
    delivered = [n for n in names if not n.startswith("errors/")]
    assert [n.rsplit("/", 1)[0] for n in delivered] == [
        "customer_id=7/2026",
        "customer_id=a%2Fb/2026",
    ]
    lines = gzip.decompress((lake / delivered[0]).read_bytes()).splitlines()
    assert [json.loads(line)["x"] for line in lines] == [1, 4]
    errors = [n for n in names if n.startswith("errors/")]
    assert len(errors) == 1 and errors[0].startswith("errors/partitioning-failed/year=2026/")
    (error,) = [json.loads(line) for line in (lake / errors[0]).read_bytes().splitlines()]
    assert error["offset"] == 2 and error["errorCode"] == "partitioning-failed"
    assert "value.customer_id" in error["errorMessage"]
    assert json.loads(__import__("base64").b64decode(error["rawData"])) == {"x": 3}


def test_transform_ok_dropped_and_failed(broker: logway.Broker, topic: str, tmp_path: Path) -> None:
    broker.create_topic(topic, **KEEP)
    produce_json(broker, topic, [(T0, {"n": n}) for n in range(6)])

    def transform(records: list[logway.Record]) -> list[Any]:
        out: list[Any] = []
        for r in records:
            n = json.loads(r.value or b"")["n"]
            if n % 3 == 0:
                out.append(Ok({"n": n, "double": n * 2}))
            elif n % 3 == 1:
                out.append(Dropped())
            else:
                out.append(ProcessingFailed(f"no good: {n}"))
        return out

    lake = tmp_path / "lake"
    runner = run_delivery(
        broker, spec(topic, str(lake), transform=transform), committed_to(broker, topic, {0: 6})
    )
    assert [(r["n"], r["double"]) for r in read_parquet_rows(lake)] == [(0, 0), (3, 6)]
    errors = [
        json.loads(line)
        for n in files(lake, ".jsonl")
        for line in (lake / n).read_bytes().splitlines()
    ]
    assert sorted((e["offset"], e["errorMessage"]) for e in errors) == [
        (2, "no good: 2"),
        (5, "no good: 5"),
    ]
    assert all(e["errorCode"] == "processing-failed" for e in errors)
    status = runner.status()
    assert (
        status["records_in"],
        status["records_delivered"],
        status["records_dropped"],
        status["records_failed"],
    ) == (6, 2, 2, 2)


def test_values_that_are_not_json_objects_go_to_errors(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    broker.create_topic(topic, **KEEP)
    broker.produce_many(
        topic,
        [Message(v, None, (), 0, T0) for v in (b'{"a": 1}', b"not json", b"[1, 2]", b'{"a": 2}')],
    )
    lake = tmp_path / "lake"
    run_delivery(broker, spec(topic, str(lake)), committed_to(broker, topic, {0: 4}))
    assert [r["a"] for r in read_parquet_rows(lake)] == [1, 2]
    errors = [
        json.loads(line)
        for n in files(lake, ".jsonl")
        for line in (lake / n).read_bytes().splitlines()
    ]
    assert [(e["offset"], e["errorCode"]) for e in errors] == [
        (1, "format-conversion-failed"),
        (2, "format-conversion-failed"),
    ]


def test_buffer_size_flushes_before_the_interval(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    """With a 900 s interval, a file is written once 1 MB is buffered, and what is left
    goes out on shutdown."""
    broker.create_topic(topic, **KEEP)
    big = "x" * (400 * 1024)
    produce_json(broker, topic, [(T0, {"n": n, "pad": big}) for n in range(3)])
    lake = tmp_path / "lake"

    run_delivery(
        broker,
        spec(topic, str(lake), buffer_size="1MB", buffer_interval="900s"),
        committed_to(broker, topic, {0: 3}),
    )
    assert len(files(lake, ".parquet")) == 1
    produce_json(broker, topic, [(T0, {"n": 3, "pad": "y"})])
    # the interval is far off, so only the shutdown flush writes the fourth record
    run_delivery(
        broker,
        spec(topic, str(lake), buffer_size="1MB", buffer_interval="900s"),
        lambda runner: runner.stats.buffered == 1,
    )
    assert [r["n"] for r in read_parquet_rows(lake)] == [0, 1, 2, 3]
    assert broker.committed(f"lake.{topic}", topic)[logway.TopicPartition(topic, 0)] == 4


class CrashAfterWriting(DeliveryRunner):
    """Dies as a process would between writing a flush's objects and committing it."""

    def commit(self, offsets: dict[logway.TopicPartition, int]) -> None:
        if any(o > 0 for o in offsets.values()) and self.stats.objects > 0:
            self.stats.state = "crashed"
            raise RuntimeError("the process died before committing")
        super().commit(offsets)


def test_a_crash_between_write_and_commit_rewrites_the_same_files(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    """The first run writes offsets 0..9 under two prefixes and dies before it commits;
    the restart, with other buffer settings and more records waiting, rewrites exactly
    0..9 under the same names, then goes on: every record once, none missing."""
    broker.create_topic(topic, **KEEP)
    produce_json(broker, topic, [(T0 + (n // 5) * HOUR_MS, {"n": n}) for n in range(10)])
    lake = tmp_path / "lake"
    crashed = run_delivery(
        broker,
        spec(topic, str(lake)),
        lambda _runner: len(files(lake, ".parquet")) == 2,
        runner_class=CrashAfterWriting,
    )
    assert crashed.stats.state == "stopped" and "died" in (crashed.stats.last_error or "")
    before = files(lake, ".parquet")
    assert broker.committed(f"lake.{topic}", topic)[logway.TopicPartition(topic, 0)] == 0
    produce_json(broker, topic, [(T0 + HOUR_MS, {"n": n}) for n in range(10, 15)])
    run_delivery(
        broker, spec(topic, str(lake), buffer_interval=0.5), committed_to(broker, topic, {0: 15})
    )
    after = files(lake, ".parquet")
    assert set(before) <= set(after)
    assert [r["n"] for r in read_parquet_rows(lake)] == list(range(15))
    assert [r["_offset"] for r in read_parquet_rows(lake)] == list(range(15))


def test_partitions_are_delivered_separately(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    broker.create_topic(topic, partitions=2, **KEEP)
    broker.produce_many(
        topic, [Message(json.dumps({"n": n}).encode(), None, (), n % 2, T0) for n in range(8)]
    )
    lake = tmp_path / "lake"
    run_delivery(broker, spec(topic, str(lake)), committed_to(broker, topic, {0: 4, 1: 4}))
    rows = read_parquet_rows(lake)
    assert [(r["_partition"], r["n"]) for r in rows] == [
        (0, 0),
        (0, 2),
        (0, 4),
        (0, 6),
        (1, 1),
        (1, 3),
        (1, 5),
        (1, 7),
    ]
    assert {n.rsplit("/", 1)[1].split("+")[1] for n in files(lake, ".parquet")} == {"0", "1"}


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"format": "csv"}, "format must be 'parquet' or 'jsonl'"),
        ({"compression": "lz4"}, "compression of parquet must be one of"),
        ({"format": "jsonl", "compression": "snappy"}, "compression of jsonl"),
        ({"buffer_size": "512KB"}, "buffer_size must be 1 MB to 128 MB"),
        ({"buffer_size": "200MB"}, "buffer_size must be 1 MB to 128 MB"),
        ({"buffer_interval": 901}, "buffer_interval must be from 0 s to 900 s, not 901"),
        ({"buffer_interval": "soon"}, "buffer_interval"),
        ({"prefix": "{nope}/"}, "unknown placeholder {nope}"),
        ({"prefix": "../out/"}, "must stay inside the destination"),
        ({"error_prefix": "{value.}/"}, "unknown placeholder"),
        ({"transform": 3}, "transform is a function"),
        ({"schema": dict}, "schema is a generated Protobuf message class"),
        ({"starting_position": "middle"}, "starting_position"),
        ({"bufer_size": "1MB"}, "unknown delivery settings"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(
    settings: dict[str, Any], message: str, tmp_path: Path
) -> None:
    app = logway.App("lake")
    with pytest.raises(InvalidArgumentError, match=__import__("re").escape(message)):
        app.delivery("articles", to=str(tmp_path / "lake"), **settings)
    assert app.deliveries == []
    assert not (tmp_path / "lake").exists()


def test_protobuf_values_become_typed_columns(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    from examples.microblog.microblog.v1 import article_pb2

    broker.create_topic(topic, **KEEP)
    article = article_pb2.Article(
        id="a1", title="Hello", content="world", author="ada", created_at=T0
    )
    broker.produce_many(
        topic,
        [
            Message(article.SerializeToString(), None, (), 0, T0),
            Message(b"\xff\xff", None, (), 0, T0),
        ],
    )
    lake = tmp_path / "lake"
    run_delivery(
        broker,
        spec(topic, str(lake), schema=article_pb2.Article),
        committed_to(broker, topic, {0: 2}),
    )
    (name,) = files(lake, ".parquet")
    table = pq.read_table(lake / name)
    assert (table.schema.field("title").type, table.schema.field("created_at").type) == (
        "string",
        "int64",
    )
    row = table.to_pylist()[0]
    assert (row["id"], row["title"], row["created_at"], row["_offset"]) == ("a1", "Hello", T0, 0)
    (error_file,) = files(lake, ".jsonl")
    error = json.loads((lake / error_file).read_bytes())
    assert error["offset"] == 1 and "microblog.v1.Article" in error["errorMessage"]


def test_backup_source_keeps_the_untransformed_records(
    broker: logway.Broker, topic: str, tmp_path: Path
) -> None:
    broker.create_topic(topic, **KEEP)
    produce_json(broker, topic, [(T0, {"n": n}) for n in range(3)])
    lake = tmp_path / "lake"
    run_delivery(
        broker,
        spec(topic, str(lake), transform=lambda rs: [Dropped() for _ in rs], backup_source=True),
        committed_to(broker, topic, {0: 3}),
    )
    assert files(lake, ".parquet") == []
    (backup,) = files(lake, ".jsonl.gz")
    assert backup.startswith("source/year=2026/month=11/day=23/hour=15/")
    lines = [
        json.loads(x)
        for x in gzip.GzipFile(fileobj=io.BytesIO((lake / backup).read_bytes())).read().splitlines()
    ]
    assert [line["offset"] for line in lines] == [0, 1, 2]
