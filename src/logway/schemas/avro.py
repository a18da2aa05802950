"""Avro schemas: parsed and checked by the Apache Avro library (``avro``), whose
``ReaderWriterCompatibilityChecker`` applies the specification's schema resolution
rules, the rules Confluent's registry applies to Avro.

References name other Avro schemas (named types) by their full name; they are parsed
first, into the same names, so the schema can use them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import avro.errors
import avro.name
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from logway.errors import InvalidSchemaError
from logway.schemas.kinds import AVRO


class AvroKind:
    name = AVRO

    def parse(self, text: str, references: Mapping[str, str]) -> avro.schema.Schema:
        names = avro.name.Names(validate_names=True)
        try:
            for ref_text in references.values():
                avro.schema.make_avsc_object(json.loads(ref_text), names)
            return avro.schema.make_avsc_object(json.loads(text), names)
        except (ValueError, TypeError, KeyError, avro.errors.AvroException) as exc:
            raise InvalidSchemaError(f"invalid Avro schema: {exc}") from None

    def canonical(self, parsed: avro.schema.Schema, normalize: bool) -> str:
        """With ``normalize``, Avro's Parsing Canonical Form (no docs, aliases or
        defaults, fixed order); else the schema's full JSON without layout."""
        if normalize:
            return str(parsed.canonical_form)
        return json.dumps(parsed.to_json(), separators=(",", ":"), sort_keys=False)

    def problems(self, reader: Any, writer: Any) -> list[str]:
        """The library decides; for a record read as a record, each incompatible
        field is named on its own line (the library's result merges them)."""
        if _compatible(reader, writer):
            return []
        if isinstance(reader, avro.schema.RecordSchema) and isinstance(
            writer, avro.schema.RecordSchema
        ):
            by_field = _field_problems(reader, writer)
            if by_field:
                return by_field
        checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
        result = checker.get_compatibility(reader, writer)
        reader_json = reader.to_json()
        where = ", ".join(sorted(_named(str(x), reader_json) for x in result.locations or ()))
        what = "; ".join(sorted(str(x) for x in result.messages or ()))
        where = "" if where in ("", "/") else where
        return [f"{where or 'the schema'}: {what or 'cannot read the writer data'}"]


def _compatible(reader: Any, writer: Any) -> bool:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader, writer)
    return bool(result.compatibility is SchemaCompatibilityType.compatible)


def _field_problems(reader: Any, writer: Any) -> list[str]:
    out: list[str] = []
    if reader.fullname != writer.fullname and writer.fullname not in (
        reader.props.get("aliases") or ()
    ):
        out.append(f"{reader.name}: the record's name changed from {writer.fullname}")
    for field in reader.fields:
        found = writer.fields_dict.get(field.name)
        if found is None:
            for alias in field.props.get("aliases") or ():
                found = writer.fields_dict.get(alias)
                if found is not None:
                    break
        where = f"{reader.name}.{field.name}"
        if found is None:
            if not field.has_default:
                out.append(f"{where}: a field without a default that the writer lacks")
            continue
        if not _compatible(field.type, found.type):
            checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
            sub = checker.get_compatibility(field.type, found.type)
            what = "; ".join(sorted(str(m) for m in sub.messages or ()))
            out.append(f"{where}: {what}")
    return out


def _named(pointer: str, schema: Any) -> str:
    """A location in Avro's checker (a JSON pointer into the reader's schema, such as
    ``/fields/0/type``) as names: ``Reading.temp``; the pointer when it cannot tell."""
    names: list[str] = []
    node = schema
    parts = [p for p in pointer.split("/") if p]
    try:
        for i, part in enumerate(parts):
            if isinstance(node, dict) and node.get("name") and not names:
                names.append(str(node["name"]))
            node = node[int(part)] if isinstance(node, list) else node[part]
            if i > 0 and parts[i - 1] == "fields" and isinstance(node, dict):
                names.append(str(node.get("name")))
    except (KeyError, IndexError, ValueError, TypeError):
        return pointer
    return ".".join(names) or pointer


KIND = AvroKind()
