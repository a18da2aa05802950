"""The schema registry: a lookup of a schema by id once it has been read (what a
deserializer or an enforcing door asks for each record's id) is served from memory."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import logway
from logway.schemas import SchemaRegistry

LOOKUPS = 200_000
SCHEMA = (
    '{"type": "record", "name": "Reading", "fields": '
    '[{"name": "device", "type": "string"}, {"name": "temp", "type": "double"}]}'
)


@dataclass
class SchemaFigures:
    lookups_per_s: float  # by_id + parsed of a known id, best of the repetitions

    def to_json(self) -> dict[str, object]:
        return {"lookups_by_id_per_s": round(self.lookups_per_s, 1)}


def measure_schemas(root: str, reps: int) -> SchemaFigures:
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
    return SchemaFigures(LOOKUPS / best)


if __name__ == "__main__":
    print(f"{measure_schemas(tempfile.mkdtemp(), 3).lookups_per_s:,.0f} lookups/s")
