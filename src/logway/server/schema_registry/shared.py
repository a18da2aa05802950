"""What the schema registry's routes share: the one ``SchemaRegistry``, made when first
needed; subjects in paths (``/`` sent as ``%2F``); a schema as Confluent writes it, in
a ``format``; Confluent's paging."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from starlette.convertors import Convertor, register_url_convertor

from logway import errors
from logway.broker import Broker
from logway.schemas.kinds import AVRO, kind
from logway.schemas.registry import Schema, SchemaRegistry
from logway.server.schema_registry.answers import SchemaIn


class _SubjectConvertor(Convertor[str]):
    """A subject in a path: any characters, ``/`` (sent as ``%2F``) and control
    characters too (which the registry then refuses with 42201, rather than the route
    not being found)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("schema_subject", _SubjectConvertor())


class LazyRegistry:
    """The app's one ``SchemaRegistry``, made on the first request that needs it (it
    replays ``__logway_schemas``)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._lock = threading.Lock()
        self._registry: SchemaRegistry | None = None

    def __call__(self) -> SchemaRegistry:
        if self._registry is None:
            with self._lock:
                if self._registry is None:
                    made = getattr(self._broker, "schemas", None)  # the one enforcement uses
                    self._registry = made if made is not None else SchemaRegistry(self._broker)
        return self._registry


def schema_type_of(name: str | None) -> str:
    """The type named (AVRO when none), refused with 42201 when this server has no
    implementation of it."""
    try:
        return kind(name).name
    except ImportError:
        raise errors.InvalidSchemaError(
            f"{name} schemas are not supported by this server; "
            f"GET /schemas/schemas/types lists those that are"
        ) from None


def available(name: str) -> bool:
    try:
        kind(name)
    except (ImportError, errors.InvalidSchemaError):
        return False
    return True


def references_of(body: SchemaIn) -> list[dict[str, Any]]:
    return [r.model_dump() for r in body.references or ()]


def described(schema: Schema, text: str, **fields: Any) -> dict[str, Any]:
    """A schema's fields as Confluent writes them: no schemaType for AVRO, no empty
    references."""
    out = dict(fields)
    if schema.schema_type != AVRO:
        out["schemaType"] = schema.schema_type
    if schema.references:
        out["references"] = [r.to_json() for r in schema.references]
    out["schema"] = text
    return out


def version_out(schema: Schema, text: str) -> dict[str, Any]:
    return described(schema, text, subject=schema.subject, version=schema.version, id=schema.id)


def formatted_text(registry: SchemaRegistry, schema: Schema, fmt: str) -> str:
    """The schema's text in ``format`` (Confluent's ``formattedString``: Avro
    ``resolved``, Protobuf ``serialized``...), when its kind offers
    ``formatted(parsed, format)``; else as registered."""
    if not fmt.strip():
        return schema.schema
    formatted = getattr(kind(schema.schema_type), "formatted", None)
    if formatted is None:
        return schema.schema
    text = formatted(registry.parsed(schema.id), fmt.strip())
    return schema.schema if text is None else str(text)


def page(items: Iterable[Any], offset: int, limit: int) -> list[Any]:
    """Confluent's paging: skip ``offset``, then at most ``limit`` (all when < 1)."""
    listed = list(items)[offset:]
    return listed if limit < 1 else listed[:limit]


def is_latest(version: str) -> bool:
    return version.strip().lower() in ("latest", "-1")
