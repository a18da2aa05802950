"""Parquet tables of values in the schema registry's wire format (Confluent's: a zero
byte, the schema id, for Protobuf the message indexes, then the data): each value is
decoded with the schema its id names, and its columns are typed from that schema
(``logway.delivery.protobuf``, ``logway.delivery.avro``), never guessed from the data.

Versions of one type in one flush (a field added, say) make one table whose columns
are the union of theirs by name, a row's missing columns null and a widened type
(int to long) the wider one: a lake wants few, large files of one shape while a
subject evolves compatibly, as a Firehose table has one schema and Confluent's S3
sink projects records onto the newest one. Versions that do not unite (a field's
type changed under compatibility NONE) and other types (another message or record)
get tables of their own, so nothing is lost or coerced. Each file's Parquet metadata
names the schema ids of its rows (``logway.schema_ids``).

JSON Schema values (and dicts a transform returns) are decoded and typed from their
data, as JSON values are: JSON Schema does not map to Arrow types one to one. A
value that is not in the wire format, has an id no schema has, or does not decode
with its schema fails as ``format-conversion-failed``, with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from google.protobuf.message import Message as PbMessage

from logway.delivery.avro import avro_columns
from logway.delivery.convert import Failure, table_from_json, with_metadata
from logway.delivery.protobuf import message_columns
from logway.errors import InvalidRecordError, SchemaNotFoundError
from logway.records import Record
from logway.schemas.kinds import AVRO, JSON
from logway.schemas.wire import HEADER, schema_id_of

FAILED = "format-conversion-failed"
SCHEMA_IDS = b"logway.schema_ids"  # Parquet metadata: the schema ids of a file's rows

_JSON_KINDS = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
Table = tuple[pa.Table, list[int]]  # a table and the indexes of the records of its rows


@dataclass(frozen=True, eq=False)  # one per schema id and type: compared by identity
class Shape:
    """The columns of one schema id's data of one type (a Protobuf message, an Avro
    schema): their Arrow schema, and a decoded value as a row of them."""

    schema_id: int
    name: str  # the type's full name: versions of one type unite
    schema: pa.Schema
    row: Callable[[Any], dict[str, Any]]


class RegistryTables:
    """Tables of a delivery's values, with the Arrow schema of each schema id made once
    (a schema id always names the same schema)."""

    def __init__(self, schemas: Any) -> None:
        self.schemas = schemas  # a broker's ``logway.schemas.typed.Schemas``
        self._shapes: dict[tuple[int, str], Shape] = {}
        self._types: dict[int, str] = {}

    def tables(
        self, records: Sequence[Record], datas: Sequence[bytes | dict[str, Any]]
    ) -> tuple[list[Table], list[Failure]]:
        """The tables of ``datas`` (one per record, in offset order), and the records
        whose values failed."""
        rows: dict[Shape, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        plain: list[tuple[int, dict[str, Any]]] = []
        failures: list[Failure] = []
        for i, data in enumerate(datas):
            if isinstance(data, dict):
                plain.append((i, data))
                continue
            try:
                shape, value = self._decode(data)
            except InvalidRecordError as exc:
                failures.append((i, FAILED, f"the value {exc}"))
                continue
            if shape is None:
                if isinstance(value, dict):
                    plain.append((i, value))
                else:
                    kind = _JSON_KINDS.get(type(value), "a number")
                    failures.append((i, FAILED, f"the value is {kind}; Parquet rows are objects"))
                continue
            try:
                rows[shape].append((i, shape.row(value)))
            except Exception as exc:  # data its schema allows and no column takes
                failures.append((i, FAILED, f"the value does not convert to columns: {exc}"))
        tables: list[Table] = []
        for schema, shapes in _united(list(rows)):
            chosen = sorted(item for shape in shapes for item in rows[shape])
            table, more = _table(records, chosen, schema, sorted({s.schema_id for s in shapes}))
            failures += more
            if table is not None:
                tables.append(table)
        if plain:
            subset = [records[i] for i, _ in plain]
            table, kept, _ = table_from_json(subset, [value for _, value in plain])
            if table is not None:
                tables.append((table, [plain[k][0] for k in kept]))
        tables.sort(key=lambda t: t[1][0])
        return tables, failures

    def _decode(self, data: bytes) -> tuple[Shape | None, Any]:
        """The value in ``data`` and the shape of its columns (None: JSON, typed from
        its data); ``InvalidRecordError`` says why it does not decode."""
        schema_id = schema_id_of(data)
        try:
            codec = self.schemas.codec(schema_id)
        except SchemaNotFoundError:
            raise InvalidRecordError(
                f"has schema id {schema_id}, which names no schema in the registry"
            ) from None
        value = codec.decode(memoryview(data)[HEADER:])
        if isinstance(value, PbMessage):
            return self._shape(schema_id, value.DESCRIPTOR.full_name, value.DESCRIPTOR), value
        if self._type(schema_id) == JSON:
            return None, value
        return self._shape(schema_id, "", None), value

    def _type(self, schema_id: int) -> str:
        found = self._types.get(schema_id)
        if found is None:
            found = self._types[schema_id] = self.schemas.by_id(schema_id).schema_type
        return found

    def _shape(self, schema_id: int, message: str, descriptor: Any) -> Shape:
        found = self._shapes.get((schema_id, message))
        if found is None:
            if descriptor is not None:
                schema, row = message_columns(descriptor)
                name = message
            else:
                assert self._type(schema_id) == AVRO
                parsed = self.schemas.parsed(schema_id)
                schema, row = avro_columns(parsed)
                name = str(getattr(parsed, "fullname", None) or parsed.type)
            found = self._shapes[(schema_id, message)] = Shape(schema_id, name, schema, row)
        return found


def _united(shapes: list[Shape]) -> list[tuple[pa.Schema, list[Shape]]]:
    """The shapes in groups whose columns unite, each with the united schema: versions
    of one type, oldest id first (so a later version's new columns come last)."""
    groups: list[tuple[pa.Schema, list[Shape]]] = []
    for shape in sorted(shapes, key=lambda s: (s.name, s.schema_id)):
        for n, (schema, members) in enumerate(groups):
            if members[0].name != shape.name:
                continue
            try:
                merged = pa.unify_schemas([schema, shape.schema], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                continue
            groups[n] = (merged, [*members, shape])
            break
        else:
            groups.append((shape.schema, [shape]))
    return groups


def _table(
    records: Sequence[Record],
    rows: list[tuple[int, dict[str, Any]]],
    schema: pa.Schema,
    schema_ids: list[int],
) -> tuple[Table | None, list[Failure]]:
    """A table of ``rows`` (record index, row), in offset order, with their records'
    columns; a row Arrow refuses (a value out of its column's range) fails alone."""
    failures: list[Failure] = []
    try:
        batch = _batch([row for _, row in rows], schema)
    except _REFUSED:
        kept = []
        for i, row in rows:
            try:
                _batch([row], schema)
            except _REFUSED as exc:
                failures.append((i, FAILED, f"the value does not fit its columns: {exc}"))
            else:
                kept.append((i, row))
        if not kept:
            return None, failures
        rows = kept
        batch = _batch([row for _, row in rows], schema)
    index = [i for i, _ in rows]
    table = with_metadata(pa.Table.from_batches([batch]), records, index)
    ids = ",".join(map(str, schema_ids)).encode()
    return (table.replace_schema_metadata({SCHEMA_IDS: ids}), index), failures


_REFUSED = (pa.ArrowException, ValueError, TypeError, OverflowError)


def _batch(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    """Rows as a record batch of ``schema`` (one with no columns keeps its rows)."""
    return pa.RecordBatch.from_struct_array(pa.array(rows, pa.struct(schema)))
