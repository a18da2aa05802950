"""Functions and retention: what expired before a function read it is gone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import logway
from logway.backends.embedded import EmbeddedBroker
from logway.functions.batch import Batch
from logway.functions.runner import run_functions


def test_a_function_goes_on_after_records_expired_unread(tmp_path: Path) -> None:
    """Lambda's semantics: records that retention removed before the function read
    them are gone; the function resumes at the log's start, with a warning."""
    with logway.connect(f"file:{tmp_path}") as broker:
        assert isinstance(broker, EmbeddedBroker)
        broker.create_topic("old", retention_ms=1000, segment_bytes=1024)
        broker.produce_many("old", [b"x" * 300] * 10, partition=0)
        broker.commit("exp.f", {logway.TopicPartition("old", 0): 1})
        for i in range(10):  # roll segments so that whole ones can expire
            broker.produce("old", b"y" * 300, timestamp=int(time.time() * 1000) + 10**7 + i)
        broker.apply_retention(now=int(time.time() * 1000) + 10_000)
        first = broker.start_offsets("old")[0]
        assert first > 1
        app = logway.App("exp")
        seen: list[int] = []

        @app.function("old")
        def f(batch: Batch) -> None:
            seen.extend(r.offset for r in batch)

        end = broker.end_offsets("old")[0]

        async def scenario() -> None:
            stopping = asyncio.Event()
            task = asyncio.create_task(run_functions(broker, app.name, app.functions, stopping))
            deadline = time.monotonic() + 30
            while len(seen) < end - first:
                assert time.monotonic() < deadline and not task.done()
                await asyncio.sleep(0.01)
            stopping.set()
            await task

        asyncio.run(scenario())
        assert seen == list(range(first, end))
