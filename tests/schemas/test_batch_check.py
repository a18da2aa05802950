"""The one-parse check of a whole batch of Protobuf records agrees with checking each
record alone: it accepts a batch exactly when every record is accepted, and a refused
batch names the first record refused alone (property test over mutated records)."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logway
from logway.errors import InvalidRecordError

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "microblog"))
from microblog.v1 import article_pb2 as pb

BROKER = logway.connect("memory:")
BROKER.create_topic("articles", value_schema="articles-value")
GOOD = [
    BROKER.schemas.encode("articles-value", pb.Article(id=str(i), title="t" * i, content="c"))
    for i in range(4)
]


def _refused_at(values: list[bytes]) -> int | None:
    try:
        BROKER.schemas.check_produce("articles", None, "articles-value", values)
    except InvalidRecordError as exc:
        return int(str(exc).split("record ", 1)[1].split(" ", 1)[0])
    return None


@st.composite
def _record(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(GOOD)))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(6, len(data)))
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=3))
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record(), min_size=2, max_size=8))
def test_a_batch_is_refused_exactly_at_its_first_record_refused_alone(
    values: list[bytes],
) -> None:
    alone = [_refused_at([v]) for v in values]
    first = next((i for i, r in enumerate(alone) if r is not None), None)
    assert _refused_at(values) == first
