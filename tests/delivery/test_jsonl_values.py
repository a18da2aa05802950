"""A JSON-lines delivery writes only JSON objects into the lake: a value that is not
one (not JSON, not UTF-8, an array, a number, null) is a format-conversion failure
under the error prefix, counted as failed, and never a line that would fail every
query of ``lake_json()``."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import logway
from logway.delivery import Ok
from logway.delivery.convert import not_json_objects
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec
from logway.lake import Lake
from logway.server.metrics import render

GOOD = [b'{"n": 0}', b'{"n": 1, "s": "caf\xc3\xa9"}', b'{\n  "n": 2\n}', b'{"n": 3}']
BAD = [
    b"not json",
    b"[1, 2]",
    b"3",
    b'"text"',
    b"null",
    b"",
    b'{"n": "\xff"}',  # not UTF-8
    b'\xef\xbb\xbf{"n": 4}',  # a byte order mark
    b'{"n": 5} {"n": 6}',  # two objects on a line
    b'{"n": "\\ud800"}',  # a lone surrogate
]


def _deliver(tmp_path: Path, values: list[bytes | None], **settings: Any) -> DeliveryRunner:
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("clicks")
        broker.produce_many("clicks", [logway.Message(v) for v in values])
        lake = tmp_path / "lake" / "clicks"
        spec = DeliverySpec(
            "clicks", "clicks", DeliverySettings.build(str(lake), format="jsonl", **settings)
        )
        runner = DeliveryRunner(broker, "jsonl", spec, until_end=True)
        asyncio.run(runner.run(asyncio.Event()))
        metrics = render(broker, [], [runner])
    failed = runner.stats.records_failed
    assert f'logway_delivery_records_failed_total{{delivery="jsonl.clicks"}} {failed}' in metrics
    return runner


def _errors(lake: Path) -> list[dict[str, Any]]:
    found = [
        json.loads(line)
        for path in sorted((lake / "errors").rglob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    return sorted(found, key=lambda e: e["offset"])


def test_values_that_are_not_json_objects_go_under_the_error_prefix(tmp_path: Path) -> None:
    values: list[bytes | None] = [*GOOD[:2], *BAD, None, *GOOD[2:]]
    runner = _deliver(tmp_path, values)
    status = runner.status()
    assert (status["records_in"], status["records_delivered"], status["records_failed"]) == (
        len(values),
        len(GOOD),
        len(BAD) + 1,
    )
    with Lake(str(tmp_path / "lake")) as lake:
        rows = lake.query("SELECT n, s FROM lake_json('clicks') ORDER BY n").rows
    assert rows == [(0, None), (1, "café"), (2, None), (3, None)]
    errors = _errors(tmp_path / "lake" / "clicks")
    assert [e["offset"] for e in errors] == list(range(2, 2 + len(BAD) + 1))
    assert {e["errorCode"] for e in errors} == {"format-conversion-failed"}
    assert all(e["topic"] == "clicks" for e in errors)
    raw = [None if e["rawData"] is None else base64.b64decode(e["rawData"]) for e in errors]
    assert raw == [*BAD, None]
    messages = [e["errorMessage"] for e in errors]
    assert messages[0].startswith("the value is not JSON")
    assert messages[1] == "JSON lines are JSON objects, not array values"
    assert messages[6].startswith("the value is not UTF-8")


def test_only_the_bad_record_fails_not_its_batch(tmp_path: Path) -> None:
    runner = _deliver(tmp_path, [b'{"n": 0}', b"oops", b'{"n": 2}'], compression="zstd")
    assert (runner.stats.records_delivered, runner.stats.records_failed) == (2, 1)
    with Lake(str(tmp_path / "lake")) as lake:
        assert lake.query("SELECT n FROM lake_json('clicks') ORDER BY n").rows == [(0,), (2,)]
    assert [e["offset"] for e in _errors(tmp_path / "lake" / "clicks")] == [1]


def test_what_a_transform_returns_is_checked_too(tmp_path: Path) -> None:
    def transform(records: list[logway.Record]) -> list[Ok]:
        return [Ok(r.value or b"") if r.offset % 2 else Ok([r.offset]) for r in records]

    runner = _deliver(tmp_path, [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}'], transform=transform)
    assert (runner.stats.records_delivered, runner.stats.records_failed) == (1, 2)
    errors = _errors(tmp_path / "lake" / "clicks")
    assert [(e["offset"], e["errorCode"]) for e in errors] == [
        (0, "format-conversion-failed"),
        (2, "format-conversion-failed"),
    ]


def _one_by_one(lines: list[bytes]) -> list[int]:
    """The lines a lake could not read, each parsed on its own."""
    bad = []
    for i, line in enumerate(lines):
        try:
            value = json.loads(line.decode("utf-8"))
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeError):
            bad.append(i)
            continue
        if not isinstance(value, dict):
            bad.append(i)
    return bad


@given(st.lists(st.sampled_from(GOOD + BAD + [b"  ", b'{"n": 7}\r']), max_size=12))
def test_checking_lines_at_once_finds_what_checking_each_finds(lines: list[bytes]) -> None:
    assert [i for i, _, _ in not_json_objects(lines)] == _one_by_one(lines)


def test_a_blank_line_cannot_hide_a_line_of_two_objects() -> None:
    # as many rows as lines, yet one line is blank and another holds two objects
    failures = not_json_objects([b"", b'{"a": 1} {"b": 2}'])
    assert [(i, kind) for i, kind, _ in failures] == [
        (0, "format-conversion-failed"),
        (1, "format-conversion-failed"),
    ]


HOUR_MS = 3_600_000
T0 = 1_795_000_000_000  # 2026-11-18 11:06:40 UTC


def _deliver_at(tmp_path: Path, stamps: list[int], **settings: Any) -> list[tuple[str, list[int]]]:
    """Deliver ``{"n": i}`` at each timestamp; the objects' folders and their ``n``s."""
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("clicks")
        broker.produce_many(
            "clicks",
            [
                logway.Message(json.dumps({"n": i}).encode(), timestamp=t)
                for i, t in enumerate(stamps)
            ],
        )
        lake = tmp_path / "lake"
        spec = DeliverySpec(
            "clicks", "clicks", DeliverySettings.build(str(lake), format="jsonl", **settings)
        )
        asyncio.run(DeliveryRunner(broker, "jsonl", spec, until_end=True).run(asyncio.Event()))
    return sorted(
        (
            str(path.parent.relative_to(lake)),
            [json.loads(line)["n"] for line in path.read_bytes().splitlines()],
        )
        for path in lake.rglob("*.jsonl")
    )


def test_one_flush_across_hours_goes_to_each_hours_folder(tmp_path: Path) -> None:
    stamps = [T0, T0 + 2 * HOUR_MS, T0 + 1, T0 + 26 * HOUR_MS, T0 + 2 * HOUR_MS + 5]
    assert _deliver_at(tmp_path, stamps) == [
        ("year=2026/month=11/day=18/hour=11", [0, 2]),
        ("year=2026/month=11/day=18/hour=13", [1, 4]),
        ("year=2026/month=11/day=19/hour=13", [3]),
    ]


def test_a_prefix_by_day_or_without_placeholders(tmp_path: Path) -> None:
    stamps = [T0, T0 + 5 * HOUR_MS, T0 + 26 * HOUR_MS]
    by_day = _deliver_at(tmp_path / "a", stamps, prefix="{year}-{month}-{day}/")
    assert by_day == [("2026-11-18", [0, 1]), ("2026-11-19", [2])]
    assert _deliver_at(tmp_path / "b", stamps, prefix="all/") == [("all", [0, 1, 2])]
