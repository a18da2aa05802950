"""A full disk, as one process sees it: a child caps its file sizes with
``RLIMIT_FSIZE`` and writes until the kernel refuses. Appends and group commits
must then fail with ``StorageError`` (never a raw ``OSError``), store nothing of
the refused write, and leave everything acknowledged intact, in that process and
after a reopen without the limit, where writing works again.

The last test fills the disk between a batch and its index entry: the index file
of the active segment is ``/dev/full``, which refuses every write with ENOSPC."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import logway
from logway import TopicPartition
from tests.reliability.conftest import (
    HERE,
    child_env,
    fetch_all,
    mark_unclean,
    run_check,
    segment_logs,
    url,
)
from tests.reliability.crash_child import content_digest
from tests.reliability.disk_full_child import (
    COMMIT_PARTITIONS,
    COMMIT_TOPIC,
    GROUP,
    TOPIC,
    exact_record,
)

pytestmark = pytest.mark.slow

LIMIT = 200_000


def _run_child(mode: str, data: Path, limit: int, finish: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            sys.executable,
            str(HERE / "disk_full_child.py"),
            mode,
            str(data),
            str(limit),
            "17",
            finish,
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events, result.stderr
    return events


def _check_error(error: dict[str, Any]) -> None:
    assert error["type"] == "StorageError", error
    assert error["storage_error"] and not error["os_error"], error


def _exact_batch_size(scratch: Path) -> int:
    """Bytes one ``exact_record`` append adds to a segment."""
    with logway.connect(url(scratch)) as broker:
        broker.create_topic(TOPIC)
        m = exact_record()
        broker.produce(TOPIC, m.value, m.key, m.headers, None, m.timestamp)
    (log,) = segment_logs(scratch, TOPIC)
    return log.stat().st_size


@pytest.mark.parametrize("finish", ["close", "abandon"])
@pytest.mark.parametrize("mode", ["produce", "exact"])
def test_appends_on_a_full_disk_fail_cleanly_and_lose_nothing(
    tmp_path: Path, mode: str, finish: str
) -> None:
    data = tmp_path / "data"
    # "produce": the kernel writes part of a batch (a short write) and refuses the rest;
    # "exact": the file ends exactly at the limit and the whole write is refused (EFBIG)
    limit = LIMIT if mode == "produce" else 150 * _exact_batch_size(tmp_path / "measure")
    events = _run_child(mode, data, limit, finish)
    acked: list[tuple[int, str, int]] = []
    errors = []
    for event in events:
        if event["e"] == "ack":
            assert event["offsets"] == list(range(len(acked), len(acked) + len(event["offsets"])))
            acked.extend(zip(event["offsets"], event["digests"], event["ts"], strict=True))
        elif event["e"] == "error":
            _check_error(event)
            message = event["message"]
            assert "file size limit" in message, message  # says what went wrong
            assert str(segment_logs(data, TOPIC)[-1]) in message, message  # and where
            assert "nothing of this batch was stored" in message, message
            # a refused append takes no offset
            assert event["end"] == len(acked), event
            errors.append(event)
    kinds = [e["e"] for e in events]
    assert "limit-never-bit" not in kinds
    if mode == "produce":
        assert len(errors) == 5, "each record size, down to one byte, must meet the limit"
        assert all("short write" in e["message"] for e in errors)
        assert len(acked) > 20
    else:
        assert len(errors) == 3 and len(acked) == 150
        assert all(e["message"].startswith("cannot write to") for e in errors), errors[0]
        assert segment_logs(data, TOPIC)[-1].stat().st_size == limit
    (readback,) = [e for e in events if e["e"] == "readback"]
    assert readback["end"] == len(acked)
    assert [tuple(r) for r in readback["records"]] == acked, "acknowledged data changed in place"
    if finish == "close":
        assert kinds[-1] == "closed"
    (log_file,) = segment_logs(data, TOPIC)
    assert limit - 500 < log_file.stat().st_size <= limit, "the log ran into the limit"

    # without the limit: exactly the acknowledged records, and appends work again
    with logway.connect(url(data)) as broker:
        records = fetch_all(broker, TOPIC)
        got = [(r.offset, content_digest(r.key, r.value, r.headers), r.timestamp) for r in records]
        assert got == acked
        assert broker.end_offsets(TOPIC)[0] == len(acked)
        meta = broker.produce(TOPIC, b"y" * 100_000, key="after", headers={"disk": "fine"})
        assert meta.offset == len(acked)
        assert [m.offset for m in broker.produce_many(TOPIC, [b"a", b"b"])] == [
            len(acked) + 1,
            len(acked) + 2,
        ]
    with logway.connect(url(data)) as broker:
        records = fetch_all(broker, TOPIC)
        assert len(records) == len(acked) + 3
        assert records[len(acked)].value == b"y" * 100_000
    result = run_check(data)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("finish", ["close", "abandon"])
def test_a_group_commit_on_a_full_disk_fails_and_the_last_commit_stands(
    tmp_path: Path, finish: str
) -> None:
    data = tmp_path / "data"
    events = _run_child("commit", data, LIMIT, finish)
    commits = [e["offsets"] for e in events if e["e"] == "commit-ack"]
    errors = [e for e in events if e["e"] == "error"]
    assert len(commits) > 5, "some commits must succeed before the limit"
    assert len(errors) == 2, events[-3:]
    for error in errors:
        _check_error(error)
        assert repr(GROUP) in error["message"] and "previous commit stands" in error["message"]
    (after,) = [e for e in events if e["e"] == "after"]
    assert after["committed"] == commits[-1], "a failed commit changed the committed offsets"
    group_file = data / "groups" / f"{GROUP}.offsets"
    assert LIMIT - 10_000 < group_file.stat().st_size <= LIMIT

    def committed(broker: logway.Broker) -> dict[str, int]:
        return {str(tp.partition): o for tp, o in broker.committed(GROUP).items()}

    with logway.connect(url(data)) as broker:
        assert committed(broker) == commits[-1]
        assert [lag.committed for lag in broker.lag(GROUP)] == [
            commits[-1][str(p)] for p in range(COMMIT_PARTITIONS)
        ]
        broker.commit(GROUP, {TopicPartition(COMMIT_TOPIC, 3): 42})
        assert committed(broker) == {**commits[-1], "3": 42}
    with logway.connect(url(data)) as broker:
        assert committed(broker) == {**commits[-1], "3": 42}


def test_an_index_entry_refused_for_lack_of_space_fails_the_append_cleanly(
    tmp_path: Path,
) -> None:
    """A segment's batch is written before its index entry, so the disk can fill up in
    between. Then the append must either fail with ``StorageError`` and leave nothing,
    or succeed; it must never leave a batch behind while reusing its offset."""
    data = tmp_path / "data"
    acked: list[tuple[int, str, int]] = []
    with logway.connect(url(data)) as broker:
        broker.create_topic(TOPIC, index_interval_bytes=0)  # an index entry for every batch
        for i in range(20):
            value = f"record {i}".encode()
            meta = broker.produce(TOPIC, value, key="k", timestamp=1_700_000_000_000 + i)
            acked.append((meta.offset, content_digest("k", value, None), meta.timestamp))
    mark_unclean(data)  # so the child opens the index file only for its first append
    events = _run_child("index-full", data, 1 << 30, "abandon")
    assert events[0] == {"e": "ready", "end": 20}
    assert len(events) == 4, events
    index = segment_logs(data, TOPIC)[0].with_suffix(".index")
    assert index.is_symlink()
    index.unlink()  # the disk has room again (the index is a cache: it is rebuilt)
    for event in events[1:]:
        if event["e"] == "ack":
            assert event["offsets"] == [len(acked)], "an offset was handed out twice"
            acked.extend(zip(event["offsets"], event["digests"], event["ts"], strict=True))
        else:
            assert event["type"] == "StorageError", f"raw {event['type']}: {event['message']}"
            _check_error(event)
            assert "disk is full" in event["message"], event["message"]
            assert event["end"] == len(acked), "a failed append moved the end offset"

    with logway.connect(url(data)) as broker:
        records = fetch_all(broker, TOPIC)
        got = [(r.offset, content_digest(r.key, r.value, r.headers), r.timestamp) for r in records]
        assert got == acked, "a failed append became visible, or an acknowledged one vanished"
        assert broker.produce(TOPIC, b"later").offset == len(acked)
    result = run_check(data)
    assert result.returncode == 0, result.stderr
