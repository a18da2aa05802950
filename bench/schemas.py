"""The schema registry:

- a lookup of a schema by id once it has been read (what a deserializer or an
  enforcing door asks for each record's id) is served from memory;
- enforcement on produce: batches of 1,000 Protobuf records of ~1 KiB (the microblog's
  ``Article``, framed once with ``broker.schemas.encode``) through ``produce_many``
  into a topic with ``value_schema`` against an otherwise identical topic without it,
  the same framed bytes, on an embedded ``file:`` log. Each round produces into fresh
  topics, the two taking turns (which goes first alternates), after one untimed round
  (the first writes of a fresh machine's page cache are slower); at the default
  ``fsync="always"`` (the target) and, showing the check's own cost against bare
  encoding and page-cache writes, at ``fsync="never"``.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass

import logway
from common import REPO_DIR, Throughput, scratch_dir
from logway.schemas import SchemaRegistry

sys.path.insert(0, os.path.join(REPO_DIR, "examples", "microblog"))
from microblog.v1 import article_pb2

LOOKUPS = 200_000
SCHEMA = (
    '{"type": "record", "name": "Reading", "fields": '
    '[{"name": "device", "type": "string"}, {"name": "temp", "type": "double"}]}'
)
ENFORCED_BATCH = 1_000
ENFORCED_RECORDS = 200_000  # per round and topic
SUBJECT = "articles-value"
WORDS = [
    *("log", "event", "stream", "record", "topic", "partition", "offset", "schema"),
    *("registry", "broker", "consumer", "producer", "replica", "segment", "index"),
    *("batch", "commit", "durable", "append", "fetch", "subscribe"),
]


@dataclass
class Enforcement:
    """``produce_many`` into a topic with ``value_schema`` and into one without."""

    fsync: str
    enforced: Throughput
    plain: Throughput

    @property
    def ratio(self) -> float:
        return self.enforced.records_per_s / self.plain.records_per_s

    def to_json(self) -> dict[str, object]:
        return {
            "fsync": self.fsync,
            "batch": ENFORCED_BATCH,
            "enforced": self.enforced.to_json(),
            "plain": self.plain.to_json(),
            "ratio": round(self.ratio, 4),
        }


@dataclass
class SchemaFigures:
    lookups_per_s: float  # by_id + parsed of a known id, best of the repetitions
    enforcement: Enforcement | None = None  # fsync="always", the target
    enforcement_nosync: Enforcement | None = None  # fsync="never": the check's own cost

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {"lookups_by_id_per_s": round(self.lookups_per_s, 1)}
        if self.enforcement:
            found["enforcement_1kib_protobuf"] = self.enforcement.to_json()
        if self.enforcement_nosync:
            found["enforcement_1kib_protobuf_fsync_never"] = self.enforcement_nosync.to_json()
        return found


def measure_lookups(root: str, reps: int) -> float:
    with logway.connect(f"file:{tempfile.mkdtemp(dir=root)}") as broker:
        registry = SchemaRegistry(broker)
        schema_id = registry.register("readings-value", SCHEMA).id
        registry.parsed(schema_id)  # the first lookup reads and parses it
        by_id, parsed = registry.by_id, registry.parsed
        best = float("inf")
        for _ in range(reps):
            started = time.perf_counter()
            for _ in range(LOOKUPS):
                by_id(schema_id)
                parsed(schema_id)
            best = min(best, time.perf_counter() - started)
    return LOOKUPS / best


def articles(count: int = ENFORCED_BATCH) -> list[article_pb2.Article]:
    """``count`` distinct articles of ~1 KiB serialised (their text ~940 characters)."""
    rnd = random.Random(7)
    made = []
    for i in range(count):
        content = " ".join(rnd.choices(WORDS, k=200))[:940]
        made.append(
            article_pb2.Article(
                id=f"article-{i:08d}",
                title=" ".join(rnd.choices(WORDS, k=6)).capitalize(),
                content=content,
                author=f"author-{rnd.randrange(1000):03d}",
                created_at=1_700_000_000_000 + i * 1_000,
            )
        )
    return made


def _produce_seconds(broker: logway.Broker, topic: str, values: list[bytes], batches: int) -> float:
    produce_many = broker.produce_many
    produce_many(topic, values)  # the topic's first batch (and the codec) made untimed
    started = time.perf_counter()
    for _ in range(batches):
        produce_many(topic, values)
    return time.perf_counter() - started


def measure_enforcement(root: str, records: int, rounds: int, fsync: str) -> Enforcement:
    """Seconds of ``records`` records through each topic per round (see the module's
    docstring); the first round is not counted."""
    batches = max(1, records // ENFORCED_BATCH)
    n = batches * ENFORCED_BATCH
    runs: dict[bool, list[float]] = {True: [], False: []}
    with logway.connect(f"file:{tempfile.mkdtemp(dir=root)}") as broker:
        values = [broker.schemas.encode(SUBJECT, a) for a in articles()]
        nbytes = sum(map(len, values)) * batches
        for r in range(rounds + 1):
            for enforced in (True, False) if r % 2 else (False, True):
                topic = f"{'enforced' if enforced else 'plain'}-{r}"
                config = {"value_schema": SUBJECT} if enforced else {}
                broker.create_topic(topic, fsync=fsync, **config)
                seconds = _produce_seconds(broker, topic, values, batches)
                broker.delete_topic(topic)
                if r:
                    runs[enforced].append(seconds)
    return Enforcement(fsync, Throughput(n, nbytes, runs[True]), Throughput(n, nbytes, runs[False]))


def measure_schemas(root: str, reps: int, records: int = ENFORCED_RECORDS) -> SchemaFigures:
    rounds = max(6, 2 * reps)
    return SchemaFigures(
        measure_lookups(root, reps),
        measure_enforcement(root, records, rounds, "always"),
        measure_enforcement(root, records, rounds, "never"),
    )


def describe(e: Enforcement) -> str:
    return (
        f"enforcement, fsync={e.fsync}: {e.enforced.records_per_s:,.0f} rec/s with value_schema, "
        f"{e.plain.records_per_s:,.0f} without, ratio {e.ratio:.3f} (target >= 0.7 at "
        f"fsync=always); runs with {sorted(round(x, 3) for x in e.enforced.runs)} s, "
        f"without {sorted(round(x, 3) for x in e.plain.runs)} s"
    )


if __name__ == "__main__":
    records = int(sys.argv[1]) if len(sys.argv) > 1 else ENFORCED_RECORDS
    with scratch_dir("schemas") as root:
        figures = measure_schemas(root, 3, records)
    print(f"{figures.lookups_per_s:,.0f} lookups/s (target >= 100,000)")
    for e in (figures.enforcement, figures.enforcement_nosync):
        if e:
            print(describe(e))
