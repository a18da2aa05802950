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
        checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
        result = checker.get_compatibility(reader, writer)
        if result.compatibility is SchemaCompatibilityType.compatible:
            return []
        where = ", ".join(sorted(str(x) for x in result.locations or ()))
        what = ", ".join(sorted(str(x) for x in result.messages or ()))
        detail = f" (at {where}: {what})" if where or what else ""
        kinds = sorted({i.value.replace("_", " ") for i in result.incompatibilities or ()})
        return [f"{k}{detail}" for k in kinds] or ["the reader cannot read the writer's data"]


KIND = AvroKind()
