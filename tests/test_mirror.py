"""``logway.mirror`` and ``logway mirror``: copying topics between brokers with every
field and partition kept, resuming from a consumer group on the source."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import logway
from logway.mirror import LEGACY_GROUP, MirrorResult, default_group, destination_name, mirror
from logway.records import Message, Record, TopicPartition
from tests.servers import LogwayServer

# an hour ago, well inside the topics' retention: older records could be deleted by
# the embedded log's background retention check while a test runs
T0 = (int(time.time()) - 3600) * 1000


def read_all(broker: logway.Broker, topic: str) -> list[Record]:
    """Every record of a topic, partition by partition, in offset order."""
    out: list[Record] = []
    starts = broker.start_offsets(topic)
    for p, end in sorted(broker.end_offsets(topic).items()):
        offset = starts[p]
        while offset < end:
            batch = broker.fetch(topic, p, offset)
            assert batch, f"{topic}/{p} returned nothing at {offset} below its end {end}"
            out.extend(batch)
            offset = batch[-1].offset + 1
    return out


def fill(broker: logway.Broker) -> dict[str, list[Record]]:
    """Two topics with keys, no keys, tombstones, repeated and empty headers, explicit
    timestamps and partitions; and an internal topic the mirror leaves alone."""
    broker.create_topic("orders", partitions=3, retention_ms="1d", compression="gzip")
    broker.create_topic("events")
    broker.create_topic("__internal")
    broker.produce_many(
        "orders",
        [
            Message(b"o0", key=b"alice", headers=[("h", b"1"), ("h", b"2")], timestamp=T0),
            Message(b"o1", key=b"bob", headers={"empty": None}, partition=1, timestamp=T0 + 1),
            Message(None, key=b"alice", timestamp=T0 + 2),  # a tombstone
            Message(b"o3", partition=2, timestamp=T0 - 5),  # older than the one before
            Message(b"\x00\xff binary", key=b"\x01", partition=0, timestamp=T0 + 3),
        ],
    )
    broker.produce_many("events", [Message(f"e{i}", timestamp=T0 + i) for i in range(7)])
    broker.produce("__internal", b"internal")
    return {"orders": read_all(broker, "orders"), "events": read_all(broker, "events")}


@pytest.fixture
def open_src(tmp_path: Path) -> Iterator[Callable[[], logway.Broker]]:
    yield from _opener(tmp_path / "src")


@pytest.fixture
def open_dst(tmp_path: Path) -> Iterator[Callable[[], logway.Broker]]:
    yield from _opener(tmp_path / "dst")


def _opener(path: Path) -> Iterator[Callable[[], logway.Broker]]:
    opened: list[logway.Broker] = []

    def open_broker() -> logway.Broker:
        broker = logway.connect(f"file:{path}")
        opened.append(broker)
        return broker

    yield open_broker
    for broker in opened:
        broker.close()


def test_copies_every_field_of_every_record_to_the_same_partitions(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    original = fill(src)
    assert {r.partition for r in original["orders"]} == {0, 1, 2}

    result = mirror(src, dst)

    assert sorted(result.topics) == ["events", "orders"]  # not __internal
    assert result.topics["orders"].copied == 5 and result.topics["events"].copied == 7
    assert result.copied == 12 and result.skipped == 0 and not result.stopped
    assert result.topics["orders"].created and result.topics["events"].created
    assert dst.list_topics() == ["events", "orders"]
    for topic, records in original.items():
        copied = read_all(dst, topic)
        assert copied == records  # topic, partition, offset, timestamp, key, value, headers
        for a, b in zip(copied, records, strict=True):
            assert (a.topic, a.partition, a.offset, a.timestamp) == (
                b.topic,
                b.partition,
                b.offset,
                b.timestamp,
            )
            assert (a.key, a.value, a.headers) == (b.key, b.value, b.headers)
    described = dst.describe_topic("orders")
    assert described.partitions == 3
    assert described.config["retention_ms"] == 86_400_000
    assert described.config["compression"] == "gzip"
    assert dst.end_offsets("orders") == src.end_offsets("orders")


def test_a_rerun_copies_only_new_records_and_the_position_is_the_sources_group(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    fill(src)
    group = mirror(src, dst, ["orders"]).group
    assert group == default_group(dst.url)
    assert group.startswith("logway-mirror@file:/") and group.endswith("/dst")
    ends = src.end_offsets("orders")
    assert src.committed(group) == {TopicPartition("orders", p): end for p, end in ends.items()}
    assert [x.lag for x in src.lag(group)] == [0, 0, 0]

    again = mirror(src, dst, ["orders"])
    assert again.copied == 0 and not again.topics["orders"].created

    src.produce("orders", b"new-0", key=b"carol", timestamp=T0 + 10)
    src.produce("orders", b"new-1", partition=1, headers={"n": b"1"})
    third = mirror(src, dst, ["orders"])
    assert third.copied == 2
    assert read_all(dst, "orders") == read_all(src, "orders")  # nothing twice
    assert src.committed(group, "orders") == {
        TopicPartition("orders", p): end for p, end in src.end_offsets("orders").items()
    }
    assert "events" not in dst.list_topics()


def test_another_group_keeps_its_own_position(
    open_src: Callable[[], logway.Broker], tmp_path: Path
) -> None:
    src = open_src()
    fill(src)
    with (
        logway.connect(f"file:{tmp_path / 'a'}") as a,
        logway.connect(f"file:{tmp_path / 'b'}") as b,
    ):
        assert mirror(src, a, group="to-a").copied == 12
        assert mirror(src, b, group="to-b", max_records=2).copied == 12
        assert mirror(src, a, group="to-a").copied == 0
        assert read_all(a, "events") == read_all(b, "events") == read_all(src, "events")
    assert sorted(src.list_groups()) == ["to-a", "to-b"]  # no default group besides
    assert src.committed("to-a") == src.committed("to-b")


def test_each_destination_has_its_own_default_group(
    open_src: Callable[[], logway.Broker], tmp_path: Path
) -> None:
    src = open_src()
    original = fill(src)
    with (
        logway.connect(f"file:{tmp_path / 'a'}") as a,
        logway.connect(f"file:{tmp_path / 'b'}") as b,
    ):
        into_a = mirror(src, a)
        into_b = mirror(src, b)  # after a: b still gets every record
        assert into_a.copied == into_b.copied == 12
        assert (into_a.group, into_b.group) == (default_group(a.url), default_group(b.url))
        assert into_a.group != into_b.group
        for topic, records in original.items():
            assert read_all(a, topic) == read_all(b, topic) == records
        src.produce("events", b"later", timestamp=T0 + 100)
        assert mirror(src, a).copied == 1
        assert mirror(src, a).copied == 0
        assert mirror(src, b).copied == 1
    assert sorted(src.list_groups()) == sorted([into_a.group, into_b.group])


def test_the_default_group_names_the_destination_however_it_is_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copy").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "copy")
    where = os.path.realpath(tmp_path / "copy")
    files = ["file:copy", "file:./copy", f"file:{where}/", f"file://{where}", "FILE:link"]
    files.append("file:missing/../copy")
    assert {default_group(url) for url in files} == {f"logway-mirror@file:{where}"}
    assert default_group("file:other") == f"logway-mirror@file:{tmp_path.resolve() / 'other'}"

    kafka = [
        "kafka://k1:9092,k2:9092",
        "kafka://K2:9092,k1",
        "kafka:k2,k1:9092,k2",
        "kafka://k1,k2?security.protocol=SASL_SSL&sasl.username=me&sasl.password=hunter2",
        "kafka://me:hunter2@k1,k2",
    ]
    assert {default_group(url) for url in kafka} == {"logway-mirror@kafka://k1:9092,k2:9092"}
    servers = [
        "logway://Backup:7070",
        "logway://backup",
        "logway://backup:7070/",
        "logway://admin:hunter2@backup",
        "logway://backup?token=hunter2",
    ]
    assert {default_group(url) for url in servers} == {"logway-mirror@logway://backup:7070"}
    assert default_group("logway://[::1]") == "logway-mirror@logway://[::1]:7070"
    for url in kafka + servers:
        assert "hunter2" not in default_group(url) and "me" not in destination_name(url)
    distinct = ["logway://backup:7071", "logway://other", "kafka://k1", "file:copy", "memory:"]
    assert len({default_group(url) for url in distinct}) == len(distinct)


def test_a_long_or_odd_destination_still_gives_a_group_of_its_own(tmp_path: Path) -> None:
    """Within a group name's limits, and a file name's where the embedded log keeps it."""
    deep = "file:/" + "/".join(["a-directory-name"] * 30)
    odd = "file:/backups/\udcff\n"
    groups = [default_group(url) for url in (deep, deep + "-2", odd)]
    assert len(set(groups)) == 3 and groups[0] == default_group(deep)
    assert groups[0].startswith("logway-mirror@file:...") and "a-directory-name" in groups[0]
    with logway.connect(f"file:{tmp_path / 'src'}") as src:
        src.create_topic("t")
        for group in groups:
            assert group.isprintable() and len(group) <= 249
            src.commit(group, {TopicPartition("t", 0): 0})
        assert sorted(src.list_groups()) == sorted(groups)


def test_a_position_in_the_group_every_mirror_once_shared_is_pointed_out(
    open_src: Callable[[], logway.Broker],
    open_dst: Callable[[], logway.Broker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    src, dst = open_src(), open_dst()
    fill(src)
    src.commit(LEGACY_GROUP, {TopicPartition("events", 0): 7})
    with caplog.at_level(logging.WARNING, logger="logway.mirror"):
        assert mirror(src, dst, ["events"]).copied == 7
    assert any(f"--group {LEGACY_GROUP}" in m for m in caplog.messages)
    caplog.clear()
    src.produce("events", b"later")
    with caplog.at_level(logging.WARNING, logger="logway.mirror"):
        assert mirror(src, dst, ["events"]).copied == 1
    assert caplog.messages == []  # the destination's own group has a position now
    assert mirror(src, dst, ["events"], group=LEGACY_GROUP).copied == 1


class FailingCommits:
    """A source whose commits fail after ``ok`` of them: a crash after the destination
    confirmed a batch and before the source recorded it."""

    def __init__(self, broker: logway.Broker, ok: int):
        self._broker = broker
        self._ok = ok

    def commit(self, group: str, offsets: Any) -> None:
        if self._ok == 0:
            raise logway.LogwayError("crash before the commit")
        self._ok -= 1
        self._broker.commit(group, offsets)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)


def test_a_crash_between_produce_and_commit_repeats_only_the_batch_in_flight(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    src.create_topic("t")
    src.produce_many("t", [f"r{i}".encode() for i in range(10)])
    # the first commit sets the starting position, the second is the first batch
    crashing: Any = FailingCommits(src, ok=2)
    with pytest.raises(logway.LogwayError, match="crash before the commit"):
        mirror(crashing, dst, ["t"], max_records=3)
    assert src.committed(default_group(dst.url)) == {TopicPartition("t", 0): 3}
    assert [r.value for r in read_all(dst, "t")] == [b"r0", b"r1", b"r2", b"r3", b"r4", b"r5"]

    result = mirror(src, dst, ["t"], max_records=3)
    assert result.copied == 7  # the batch in flight again, then the rest
    values = [r.value for r in read_all(dst, "t")]
    assert values == [f"r{i}".encode() for i in [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 9]]
    assert src.committed(default_group(dst.url)) == {TopicPartition("t", 0): 10}


def test_a_position_below_the_start_offset_continues_from_the_start_and_says_so(
    open_src: Callable[[], logway.Broker],
    open_dst: Callable[[], logway.Broker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    src, dst = open_src(), open_dst()
    src.create_topic("t", segment_bytes=1024, retention_bytes=1024, retention_ms=-1)
    for i in range(10):  # one batch per record, so that segments roll often
        src.produce("t", f"{i:02d}".encode() * 20)
    assert mirror(src, dst).copied == 10
    for i in range(10, 40):
        src.produce("t", f"{i:02d}".encode() * 20)
    src.apply_retention()  # type: ignore[attr-defined]
    start = src.start_offsets("t")[0]
    assert start > 10, "retention should have deleted records the mirror has not copied"

    with caplog.at_level(logging.WARNING, logger="logway.mirror"):
        result = mirror(src, dst)
    assert result.topics["t"].skipped == {0: start - 10}
    assert result.skipped == start - 10 and result.copied == 40 - start
    assert any(f"offsets 10 to {start - 1} were deleted by retention" in m for m in caplog.messages)
    assert [r.value for r in read_all(dst, "t")] == [
        f"{i:02d}".encode() * 20 for i in [*range(10), *range(start, 40)]
    ]
    # the destination's offsets are its own: the gap closes up
    assert dst.end_offsets("t") == {0: 10 + 40 - start}
    assert src.committed(default_group(dst.url)) == {TopicPartition("t", 0): 40}
    assert mirror(src, dst).skipped == 0  # reported once, not on every run


def test_retention_during_a_run_is_skipped_and_reported(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    src.create_topic("t", segment_bytes=1024, retention_bytes=1024, retention_ms=-1)
    for i in range(40):
        src.produce("t", f"{i:02d}".encode() * 20)
    starts: list[int] = []

    def after_first_batch(tp: TopicPartition, count: int) -> None:
        if not starts:
            src.apply_retention()  # type: ignore[attr-defined]
            starts.append(src.start_offsets("t")[0])

    result = mirror(src, dst, max_records=5, on_batch=after_first_batch)
    (start,) = starts
    assert start > 5
    assert result.topics["t"].skipped == {0: start - 5}
    assert result.copied == 5 + 40 - start
    assert [r.value for r in read_all(dst, "t")] == [
        f"{i:02d}".encode() * 20 for i in [*range(5), *range(start, 40)]
    ]


def _nothing_changed(src: logway.Broker, dst: logway.Broker, before: dict[str, Any]) -> None:
    assert src.list_groups() == []
    assert dst.list_topics() == before["dst_topics"]
    for topic in dst.list_topics():
        assert dst.end_offsets(topic) == before["dst_ends"][topic]
    assert {t: read_all(src, t) for t in src.list_topics()} == before["src_records"]


def _snapshot(src: logway.Broker, dst: logway.Broker) -> dict[str, Any]:
    return {
        "dst_topics": dst.list_topics(),
        "dst_ends": {t: dst.end_offsets(t) for t in dst.list_topics()},
        "src_records": {t: read_all(src, t) for t in src.list_topics()},
    }


def test_a_destination_with_fewer_partitions_is_refused_before_anything_is_copied(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    fill(src)
    dst.create_topic("orders", partitions=2)
    before = _snapshot(src, dst)
    with pytest.raises(
        logway.InvalidArgumentError, match="3 partitions on the source but 2 on the destination"
    ):
        mirror(src, dst)
    _nothing_changed(src, dst, before)
    assert dst.list_topics() == ["orders"]  # "events" was not created either

    # more partitions on the destination are fine: each record keeps its number
    dst.delete_topic("orders")
    dst.create_topic("orders", partitions=5)
    result = mirror(src, dst, ["orders"])
    assert result.copied == 5 and not result.topics["orders"].created
    assert read_all(dst, "orders") == read_all(src, "orders")


def test_bad_input_is_refused_and_changes_nothing(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    fill(src)
    before = _snapshot(src, dst)
    with pytest.raises(logway.UnknownTopicError, match="no topic 'nope'"):
        mirror(src, dst, ["orders", "nope"])
    _nothing_changed(src, dst, before)
    with pytest.raises(logway.InvalidArgumentError, match="consumer group"):
        mirror(src, dst, group="")
    with pytest.raises(logway.InvalidArgumentError, match="no topics"):
        mirror(src, dst, [])
    with pytest.raises(logway.InvalidArgumentError, match="same broker"):
        mirror(src, src)
    with pytest.raises(logway.InvalidArgumentError, match="at least 1"):
        mirror(src, dst, max_records=0)
    _nothing_changed(src, dst, before)


class CommittedBeyondTheEnd:
    """A source whose group position lies beyond the end offset, as a Kafka cluster
    keeps it for a topic deleted and recreated (the embedded log forgets it)."""

    def __init__(self, broker: logway.Broker):
        self._broker = broker

    def committed(self, group: str, topic: str | None = None) -> dict[TopicPartition, int]:
        return {TopicPartition("t", 0): 99}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)


def test_a_position_beyond_the_end_is_refused(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    src.create_topic("t")
    src.produce_many("t", [b"a", b"b", b"c"])
    source: Any = CommittedBeyondTheEnd(src)
    with pytest.raises(logway.InvalidArgumentError, match="logway groups reset"):
        mirror(source, dst)
    assert dst.list_topics() == [] and src.list_groups() == []


def test_follow_copies_new_records_until_stopped(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    src.create_topic("t", partitions=2)
    src.produce_many("t", [Message(b"a", partition=0), Message(b"b", partition=1)])
    copied = 0
    changed = threading.Condition()

    def on_batch(tp: TopicPartition, count: int) -> None:
        nonlocal copied
        with changed:
            copied += count
            changed.notify_all()

    def wait_for(n: int) -> None:
        with changed:
            assert changed.wait_for(lambda: copied >= n, timeout=30), f"{copied} of {n} copied"

    stop = threading.Event()
    results: list[MirrorResult] = []
    worker = threading.Thread(
        target=lambda: results.append(
            mirror(src, dst, follow=True, stop=stop, poll_interval=0.01, on_batch=on_batch)
        )
    )
    worker.start()
    try:
        wait_for(2)
        src.produce("t", b"c", partition=1, headers={"late": b"yes"})
        src.produce("t", b"d", partition=0)
        wait_for(4)
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()
    (result,) = results
    assert result.stopped and result.copied == 4
    assert read_all(dst, "t") == read_all(src, "t")
    assert src.committed(default_group(dst.url)) == {
        TopicPartition("t", 0): 2,
        TopicPartition("t", 1): 2,
    }


@pytest.mark.slow  # a server process
def test_remote_destination_and_back(tmp_path: Path) -> None:
    """Embedded -> a real ``logway serve`` -> embedded again."""
    server = LogwayServer(tmp_path / "server")
    server.start()
    try:
        with (
            logway.connect(f"file:{tmp_path / 'src'}") as src,
            logway.connect(server.url) as remote,
            logway.connect(f"file:{tmp_path / 'back'}") as back,
        ):
            original = fill(src)
            assert mirror(src, remote).copied == 12
            assert remote.describe_topic("orders").partitions == 3
            assert remote.describe_topic("orders").config["retention_ms"] == 86_400_000
            for topic, records in original.items():
                assert read_all(remote, topic) == records
            src.produce("events", b"later", timestamp=T0 + 100)
            assert mirror(src, remote).copied == 1

            result = mirror(remote, back, ["orders", "events"])
            assert result.copied == 13
            for topic in original:
                assert read_all(back, topic) == read_all(src, topic)
            assert remote.committed(result.group, "events") == {TopicPartition("events", 0): 8}
            assert result.group == default_group(back.url)
            assert mirror(remote, back).copied == 0
    finally:
        assert server.stop() == 0


# --- the command line, as a user runs it ---------------------------------------------


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "logway.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow  # a real process per command
def test_the_cli_copies_resumes_and_refuses_bad_input(tmp_path: Path) -> None:
    src_url, dst_url = f"file:{tmp_path / 'src'}", f"file:{tmp_path / 'dst'}"
    with logway.connect(src_url) as src:
        original = fill(src)

    out = cli("mirror", src_url, dst_url, "--topics", "orders,events").stdout
    assert "copied 12 record(s) of 2 topic(s)" in out
    assert any(line.split()[:3] == ["orders", "3", "5"] for line in out.splitlines())
    assert "created" in out
    assert "copied 0 record(s)" in cli("mirror", src_url, dst_url, "-t", "orders").stdout
    with logway.connect(dst_url) as dst:
        assert {t: read_all(dst, t) for t in original} == original

    for args, message in [
        (["nope:x", dst_url], "the source 'nope:x' has no known scheme"),
        ([src_url, "bogus:y"], "the destination 'bogus:y' has no known scheme"),
        ([f"file:{tmp_path / 'missing'}", dst_url], "names no data directory"),
        ([src_url, f"file:{tmp_path / 'new'}", "-t", "orders,nope"], "no topic 'nope'"),
        ([src_url, src_url], "the source and the destination are both"),
    ]:
        failed = cli("mirror", *args, "--group", "other", ok=False)
        assert failed.returncode == 1
        assert failed.stderr.startswith("logway: error: ") and message in failed.stderr
        assert failed.stderr.count("\n") == 1 and failed.stdout == ""
    assert not (tmp_path / "missing").exists()
    with logway.connect(src_url) as src, logway.connect(f"file:{tmp_path / 'new'}") as new:
        assert "other" not in src.list_groups()  # no run of group "other" changed anything
        assert {t: read_all(src, t) for t in original} == original
        assert new.list_topics() == []


@pytest.mark.slow  # a real process per command
def test_the_cli_gives_each_destination_its_own_group(tmp_path: Path) -> None:
    """A mirror into a second destination copies every record, and a rerun into the
    first (however its URL is spelled) nothing again."""
    src_url, a_url, b_url = (f"file:{tmp_path / name}" for name in ("src", "a", "b"))
    group_a, group_b = (
        f"logway-mirror@file:{os.path.realpath(tmp_path / name)}" for name in ("a", "b")
    )
    with logway.connect(src_url) as src:
        original = fill(src)

    into_a = cli("mirror", src_url, a_url).stdout
    assert "copied 12 record(s) of 2 topic(s)" in into_a and f"group {group_a!r}" in into_a
    into_b = cli("mirror", src_url, b_url).stdout
    assert "copied 12 record(s) of 2 topic(s)" in into_b and f"group {group_b!r}" in into_b
    with logway.connect(src_url) as src:
        src.produce("events", b"later", timestamp=T0 + 100)
        original["events"] = read_all(src, "events")
    assert "copied 1 record(s)" in cli("mirror", src_url, a_url).stdout
    respelled = cli("mirror", src_url, f"file://{tmp_path / 'src' / '..' / 'a'}/").stdout
    assert "copied 0 record(s)" in respelled and f"group {group_a!r}" in respelled
    assert "copied 1 record(s)" in cli("mirror", src_url, b_url).stdout
    for url in (a_url, b_url):
        with logway.connect(url) as dst:
            assert {t: read_all(dst, t) for t in original} == original

    described = cli("--url", src_url, "groups", "describe", group_b).stdout
    assert "events" in described and "total lag: 0" in described
    mine = cli("mirror", src_url, f"file:{tmp_path / 'c'}", "--group", "mine").stdout
    assert "copied 13 record(s)" in mine and "group 'mine'" in mine
    groups = cli("--url", src_url, "groups", "list").stdout.splitlines()
    assert sorted(groups) == sorted([group_a, group_b, "mine"])


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_cli_follows_until_a_signal_then_commits_and_exits_0(
    tmp_path: Path, sig: signal.Signals
) -> None:
    src_url, dst_url = f"file:{tmp_path / 'src'}", f"file:{tmp_path / 'dst'}"
    with logway.connect(src_url) as src:
        original = fill(src)
    process = subprocess.Popen(
        [sys.executable, "-m", "logway.cli.main", "mirror", src_url, dst_url, "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:  # it says when it has caught up
            seen.append(line)
            if "caught up; following new records" in line:
                break
        else:
            raise AssertionError(f"the mirror never caught up: {''.join(seen)}")
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopping after the batch in flight" in err
    assert "copied 12 record(s) of 2 topic(s)" in out and "(stopped)" in out
    with logway.connect(src_url) as src, logway.connect(dst_url) as dst:
        assert {t: read_all(dst, t) for t in original} == original
        assert [x.lag for x in src.lag(default_group(dst_url))] == [0] * 4


def test_the_schema_registry_goes_with_the_records_that_name_its_ids(
    open_src: Callable[[], logway.Broker], open_dst: Callable[[], logway.Broker]
) -> None:
    src, dst = open_src(), open_dst()
    reading = {"type": "record", "name": "R", "fields": [{"name": "t", "type": "double"}]}
    src.create_topic("readings", value_schema="readings-value")
    src.produce("readings", src.schemas.encode("readings-value", {"t": 2.5}, reading))
    result = mirror(src, dst)
    assert sorted(result.topics) == ["__logway_schemas", "readings"]
    (copied,) = read_all(dst, "readings")
    assert dst.schemas.decode(copied.value) == {"t": 2.5}
    assert dst.schemas.get("readings-value") == src.schemas.get("readings-value")
