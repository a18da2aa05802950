"""The hand-written Produce response against kio's encoding of the same response,
byte for byte, for every served version (kio's classes are generated from Kafka's
message schemas)."""

from __future__ import annotations

import datetime as dt
import io
import random

from kio.schema.errors import ErrorCode
from kio.serial import entity_writer

from logway.server.kafka import produce_response, versions, wire


def _kio(version: int, topics: list[tuple[str, list[produce_response.Partition]]]) -> bytes:
    def when(ms: int) -> dt.datetime | None:
        return None if ms < 0 else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

    response = wire.make(
        0,
        version,
        "ProduceResponse",
        responses=tuple(
            wire.make(
                0,
                version,
                "TopicProduceResponse",
                name=name,
                partition_responses=tuple(
                    wire.make(
                        0,
                        version,
                        "PartitionProduceResponse",
                        index=index,
                        error_code=ErrorCode(error),
                        base_offset=offset,
                        log_append_time=when(stamp),
                        log_start_offset=-1,
                        record_errors=(),
                        error_message=message or None,
                    )
                    for index, error, offset, stamp, message in parts
                ),
            )
            for name, parts in topics
        ),
        throttle_time=wire.NO_THROTTLE,
        node_endpoints=(),
    )
    buf = io.BytesIO()
    entity_writer(type(response))(buf, response)
    return buf.getvalue()


def test_the_produce_response_is_what_kio_writes_for_every_version() -> None:
    rng = random.Random(14)
    checked = 0
    for version in range(versions.SERVED[0] + 1):
        if wire.request_type(0, version) is None:
            continue
        for _ in range(20):
            topics = [
                (
                    f"t-{rng.randrange(10**6)}-é",
                    [
                        (
                            rng.randrange(1000),
                            rng.choice([0, 2, 3, 45, 56]),
                            rng.choice([-1, 0, rng.randrange(1 << 40)]),
                            rng.choice([-1, 1_796_000_000_000]),
                            rng.choice(["", "a reason ✓"]),
                        )
                        for _ in range(rng.randrange(4))
                    ],
                )
                for _ in range(rng.randrange(3))
            ]
            assert produce_response.encode(version, topics) == _kio(version, topics), version
            checked += 1
    assert checked >= 9 * 20
