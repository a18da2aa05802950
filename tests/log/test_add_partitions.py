"""The embedded log grows a topic's partitions: the new ones exist only once
``topic.json`` says so, and what an interrupted call left behind is cleared."""

from __future__ import annotations

import json
from pathlib import Path

from logway.log import Log


def test_leftovers_of_an_interrupted_call_are_ignored_then_cleared(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", 2)
        log.append("t", 0, [b"a"])
    leftover = tmp_path / "topics" / "t" / "2"  # made, but topic.json not yet written
    leftover.mkdir()
    (leftover / "00000000000000000000.log").write_bytes(b"junk")
    with Log(str(tmp_path)) as log:
        assert len(log.partitions("t")) == 2
        config = log.add_partitions("t", 3)
        assert config.partitions == 3
        assert log.partition("t", 2).end_offset == 0
        assert log.partition("t", 0).end_offset == 1
        assert all(p.config.partitions == 3 for p in log.partitions("t"))
    topic_json = json.loads((tmp_path / "topics" / "t" / "topic.json").read_text())
    assert topic_json["partitions"] == 3
    with Log(str(tmp_path)) as log:
        assert [p.end_offset for p in log.partitions("t")] == [1, 0, 0]
