"""Event contracts: a schema registry with Confluent Schema Registry's model and
rules (Avro, Protobuf, JSON Schema), kept in the log (``registry.py``).

- ``kinds``: the interface each schema type implements (parse, canonical text,
  what keeps a reader from reading a writer's data), and the lookup by type name
- ``avro``, ``protobuf``, ``jsonschema``: the three types
- ``registry``: ``SchemaRegistry``, subjects, versions, ids, compatibility levels,
  modes, soft and permanent deletes, kept in ``__logway_schemas``
- ``model``: what it holds (``Schema``, ``Reference``), the levels, modes, input
  checks and Confluent's error codes; ``compatibility``: which versions a level
  checks, and in which direction
- ``typed``: ``Schemas``, the registry a broker offers as ``broker.schemas``, with
  enforcement of topics' ``value_schema``/``key_schema`` and typed values;
  ``wire``: Confluent's wire format; ``codecs``: reading and writing data of a schema
"""

from __future__ import annotations

from logway.schemas.registry import (
    LEVELS,
    MODES,
    SCHEMAS_TOPIC,
    Reference,
    Schema,
    SchemaRegistry,
)

__all__ = ["LEVELS", "MODES", "SCHEMAS_TOPIC", "Reference", "Schema", "SchemaRegistry"]
