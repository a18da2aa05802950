"""The schema types a registry holds, each behind one small interface.

A ``Kind`` parses a schema's text (with the texts of the schemas it references, by
reference name: a Protobuf import path, an Avro or JSON Schema name), gives a
canonical text (two schemas with one canonical text are one schema, and get one id),
and says what keeps a reader with one schema from reading data written with another:
the registry's compatibility levels are made of that one question, asked in the
direction each level names (Confluent Schema Registry's levels).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol

from logway.errors import InvalidSchemaError

AVRO, PROTOBUF, JSON = "AVRO", "PROTOBUF", "JSON"
TYPES = (JSON, PROTOBUF, AVRO)  # the order Confluent's /schemas/types lists them
_MODULES = {
    AVRO: "logway.schemas.avro",
    PROTOBUF: "logway.schemas.protobuf",
    JSON: "logway.schemas.jsonschema",
}


class Kind(Protocol):
    """What the registry asks of a schema type.

    A kind may also offer an optional hook, which the registry's HTTP API calls when
    the kind has it (``getattr``; it is no part of the protocol, so a kind without it
    still is a ``Kind``):

    ``formatted(parsed, fmt: str) -> str | None``: the schema in Confluent's format
    ``fmt`` (its ``ParsedSchema.formattedString``: Protobuf's ``serialized``, the base64
    of a ``FileDescriptorProto``); None when this kind has no such format, and the
    text as registered is served.
    """

    name: str

    def parse(self, text: str, references: Mapping[str, str]) -> Any:
        """The parsed schema; ``InvalidSchemaError`` saying what is wrong."""

    def canonical(self, parsed: Any, normalize: bool) -> str:
        """Its canonical text: insensitive to layout; with ``normalize``, also to what
        the type deems equivalent (Confluent's ``normalize=true``)."""

    def problems(self, reader: Any, writer: Any) -> list[str]:
        """What keeps a reader with ``reader`` from reading data written with
        ``writer``: one line per incompatibility (the element, what changed); [] when
        it can."""


def kind(name: str | None) -> Kind:
    """The kind for a schema type name (None or "" is AVRO, as in Confluent's API)."""
    upper = (name or AVRO).upper()
    module = _MODULES.get(upper)
    if module is None:
        raise InvalidSchemaError(
            f"unknown schema type {name!r}; one of {', '.join(TYPES)}", error_code=42201
        )
    found: Kind = importlib.import_module(module).KIND
    return found
