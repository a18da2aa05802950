"""Error prefixes with placeholders a failed record may lack: the folder of what it
lacks says so, and the others (its time, its topic) are still filled in."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import logway
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec

T0 = 1_795_000_000_000  # 2026-11-18 11:06:40 UTC


def test_an_error_prefix_marks_only_what_the_record_lacks(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    settings = DeliverySettings.build(
        str(lake),
        prefix="c={value.customer}/",
        error_prefix="errors/{error_type}/{topic}/c={value.customer}/year={year}/",
    )
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("orders")
        broker.produce_many(
            "orders",
            [
                logway.Message(b'{"customer": "ada", "n": 1}', timestamp=T0),
                logway.Message(b'{"n": 2}', timestamp=T0),
            ],
        )
        spec = DeliverySpec("orders", "orders", settings)
        asyncio.run(DeliveryRunner(broker, "p", spec, until_end=True).run(asyncio.Event()))
    (error_file,) = [p for p in lake.rglob("*.jsonl") if "_logway" not in p.parts]
    folder = str(error_file.parent.relative_to(lake))
    assert folder == "errors/partitioning-failed/orders/c=__MISSING__/year=2026"
    assert json.loads(error_file.read_bytes())["offset"] == 1
    assert [p.parent.name for p in lake.rglob("*.parquet")] == ["c=ada"]
