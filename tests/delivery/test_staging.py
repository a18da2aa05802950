"""What killed runs of a delivery left unpublished is removed by the next run of the
partition once its committed position is past it, and only then: a staged object at
or past the position is one a live run could still publish.
(``tests/reliability/test_delivery_crash.py`` shows it with runs killed by SIGKILL.)"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import logway
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec
from logway.delivery.staging import Staging
from logway.objectstore import open_store

TP0, TP1 = logway.TopicPartition("clicks", 0), logway.TopicPartition("clicks", 1)
GROUP = "t.clicks"


def _leave(lake: Path, group: str, tp: logway.TopicPartition, first: int, last: int) -> Path:
    """Stage an object as a run killed before publishing it leaves it."""
    obj = Staging(open_store(str(lake)), group, tp).unpublished(
        f"year=2026/{tp.topic}+{tp.partition}+{first}+{last}.parquet", first, last
    )
    obj.stream.write(b"half written")
    obj.close()
    assert obj.tmp is not None
    return Path(obj.tmp)


def _deliver(broker: logway.Broker, lake: Path) -> DeliveryRunner:
    spec = DeliverySpec("clicks", "clicks", DeliverySettings.build(str(lake)))
    runner = DeliveryRunner(broker, "t", spec, until_end=True)
    asyncio.run(runner.run(asyncio.Event()))
    return runner


def _unpublished(lake: Path) -> list[str]:
    return sorted(
        str(p.relative_to(lake))
        for p in lake.rglob("*")
        if p.is_file() and ("staging" in p.parts or p.name.startswith(".tmp-"))
    )


def test_the_next_run_removes_what_lies_below_its_position(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("clicks", partitions=2)
        values = [json.dumps({"n": n}).encode() for n in range(6)]
        broker.produce_many("clicks", [logway.Message(v, partition=0) for v in values])
        broker.commit(GROUP, {TP0: 3})  # offsets 0..2 are delivered
        done = _leave(lake, GROUP, TP0, 0, 2)  # published by its run, or by a later one
        unfinished = _leave(lake, GROUP, TP0, 3, 5)  # killed before its commit
        ahead = _leave(lake, GROUP, TP0, 6, 9)  # past anything committed: maybe live
        other_partition = _leave(lake, GROUP, TP1, 0, 0)
        other_delivery = _leave(lake, "t.elsewhere", TP0, 0, 0)
        stranger = done.parent / "notes.txt"
        stranger.write_text("not staged by a delivery")

        runner = _deliver(broker, lake)
        assert runner.stats.records_delivered == 3
        assert broker.committed(GROUP, "clicks")[TP0] == 6
    assert not done.exists() and not unfinished.exists()
    assert ahead.exists() and other_partition.exists() and other_delivery.exists()
    assert stranger.exists()
    assert not any(p.name.startswith(".tmp-") for p in lake.rglob("*"))


def test_a_run_with_nothing_to_deliver_still_removes_them(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("clicks")
        broker.produce_many("clicks", [b'{"n": 0}', b'{"n": 1}'])
        assert _deliver(broker, lake).stats.records_delivered == 2
        left = [_leave(lake, GROUP, TP0, 0, 0), _leave(lake, GROUP, TP0, 0, 1)]
        assert all(p.exists() for p in left)
        assert _deliver(broker, lake).stats.records_in == 0
    assert _unpublished(lake) == []


def test_objects_and_range_records_are_staged_in_the_partitions_folder(tmp_path: Path) -> None:
    """A flush writes its objects (the error object too) and its range record in the
    partition's staging folder, never beside their names; after the run it is empty."""
    lake = tmp_path / "lake"
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("clicks")
        broker.produce_many("clicks", [b'{"n": 0}', b"not json"])
        runner = _deliver(broker, lake)
        assert (runner.stats.records_delivered, runner.stats.records_failed) == (1, 1)
    folder = lake / "_logway" / "staging" / GROUP / "clicks+0"
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert len(list(lake.rglob("*.parquet"))) == 1 and len(list(lake.rglob("*.jsonl"))) == 1
    assert _unpublished(lake) == []
