"""Reading and writing data with a registered schema, one codec per schema type:
Protobuf (a message class built from the schema's descriptors), Avro (binary
encoding, resolved by the ``avro`` package) and JSON Schema (UTF-8 JSON checked by
the schema's validator). A codec is made once per schema id and kept.

``decode`` raises ``InvalidRecordError`` saying why the bytes are not data of the
schema; it is what enforcement on produce runs for every record.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any, Protocol

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as PbMessage

from logway.errors import InvalidRecordError
from logway.schemas.kinds import AVRO, JSON, PROTOBUF
from logway.schemas.protobuf.model import ProtobufSchema
from logway.schemas.protobuf.serialized import FILE_NAME, descriptor
from logway.schemas.wire import message_indexes


class Codec(Protocol):
    """Data of one schema: ``decode`` the bytes after the wire format's header (for
    Protobuf, the message indexes come first) and ``encode`` a value."""

    def decode(self, data: bytes | memoryview) -> Any: ...
    def encode(self, value: Any) -> bytes: ...


def codec_for(schema_type: str, parsed: Any) -> Codec:
    if schema_type == PROTOBUF:
        return ProtobufCodec(parsed)
    if schema_type == AVRO:
        return AvroCodec(parsed)
    if schema_type == JSON:
        return JsonCodec(parsed)
    raise InvalidRecordError(f"no codec for {schema_type} schemas")


class ProtobufCodec:
    """A message of the schema's file, the message picked by the indexes before it."""

    def __init__(self, schema: ProtobufSchema) -> None:
        self.pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()
        for path in schema.dependencies:
            self._add(path, schema, added)
        self.file = descriptor(schema.file)
        self.file.name = _root_name(schema)
        self.pool.Add(self.file)
        self.package = schema.file.package
        self._classes: dict[tuple[int, ...], type[PbMessage]] = {}

    def _add(self, path: str, schema: ProtobufSchema, added: set[str]) -> None:
        if path in added:
            return
        added.add(path)
        proto = schema.dependencies[path]
        for imported in proto.all_imports():
            self._add(imported, schema, added)
        made = descriptor(proto)
        made.name = path
        self.pool.Add(made)

    def message_class(self, indexes: tuple[int, ...]) -> type[PbMessage]:
        found = self._classes.get(indexes)
        if found is None:
            found = self._classes[indexes] = message_factory.GetMessageClass(
                self.pool.FindMessageTypeByName(self._name_at(indexes))
            )
        return found

    def _name_at(self, indexes: tuple[int, ...]) -> str:
        names: list[str] = [self.package] if self.package else []
        level: Any = self.file.message_type
        for depth, index in enumerate(indexes):
            if index >= len(level):
                raise InvalidRecordError(
                    f"has Protobuf message indexes {list(indexes)}, which name no message of the "
                    f"schema (level {depth} has {len(level)})"
                )
            names.append(level[index].name)
            level = level[index].nested_type
        return ".".join(names)

    def decode(self, data: bytes | memoryview) -> PbMessage:
        indexes, start = message_indexes(data, 0)
        cls = self.message_class(indexes)
        try:
            return cls.FromString(bytes(data[start:]))
        except DecodeError as exc:
            raise InvalidRecordError(
                f"does not decode as {cls.DESCRIPTOR.full_name}: {exc}"
            ) from None

    def indexes_of(self, name: str) -> tuple[int, ...]:
        """The message indexes of the message with full name ``name``."""
        prefix = f"{self.package}." if self.package else ""
        parts = name[len(prefix) :].split(".") if name.startswith(prefix) else []
        path: list[int] = []
        level: Any = self.file.message_type
        for part in parts:
            at = next((i for i, m in enumerate(level) if m.name == part), None)
            if at is None:
                break
            path.append(at)
            level = level[at].nested_type
        else:
            if path:
                return tuple(path)
        raise InvalidRecordError(f"the schema has no message {name!r}")

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, PbMessage):
            raise InvalidRecordError(f"a Protobuf message is needed, not {type(value).__name__}")
        return value.SerializeToString()


def _root_name(schema: ProtobufSchema) -> str:
    name = FILE_NAME
    while name in schema.dependencies:
        name = f"_{name}"
    return name


class AvroCodec:
    """Avro's binary encoding of the schema, every byte of it (nothing left over)."""

    def __init__(self, schema: Any) -> None:
        import avro.io

        self.schema = schema
        self._reader = avro.io.DatumReader(schema)
        self._writer = avro.io.DatumWriter(schema)

    def decode(self, data: bytes | memoryview) -> Any:
        import avro.errors
        import avro.io

        buffer = io.BytesIO(bytes(data))
        try:
            value = self._reader.read(avro.io.BinaryDecoder(buffer))
        except (avro.errors.AvroException, EOFError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidRecordError(f"does not decode with the Avro schema: {exc}") from None
        left = len(data) - buffer.tell()
        if left:
            raise InvalidRecordError(
                f"does not decode with the Avro schema: {left} bytes are left after the datum"
            )
        return value

    def encode(self, value: Any) -> bytes:
        import avro.errors
        import avro.io

        buffer = io.BytesIO()
        try:
            self._writer.write(value, avro.io.BinaryEncoder(buffer))
        except (avro.errors.AvroException, TypeError, ValueError) as exc:
            raise InvalidRecordError(f"the value does not fit the Avro schema: {exc}") from None
        return buffer.getvalue()


class JsonCodec:
    """UTF-8 JSON that the schema's validator accepts."""

    def __init__(self, parsed: Any) -> None:
        self.validator = parsed.validator

    def decode(self, data: bytes | memoryview) -> Any:
        try:
            value = json.loads(bytes(data))
        except ValueError as exc:
            raise InvalidRecordError(f"is not JSON: {exc}") from None
        self._check(value)
        return value

    def _check(self, value: Any) -> None:
        error = next(iter(self.validator.iter_errors(value)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(the document)"
            raise InvalidRecordError(f"does not match the JSON schema at {where}: {error.message}")

    def encode(self, value: Any) -> bytes:
        self._check(value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def file_descriptor_text(message: PbMessage | type[PbMessage]) -> tuple[str, dict[str, str]]:
    """A generated message's file as the registry takes it (base64 of its
    ``FileDescriptorProto``) and the files it imports that are not well-known, by
    import path, each likewise."""
    import base64

    from logway.schemas.protobuf.wellknown import WELL_KNOWN

    def text_of(file: Any) -> str:
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        return base64.b64encode(proto.SerializeToString()).decode("ascii")

    file = message.DESCRIPTOR.file
    imports: dict[str, str] = {}
    pending: list[Any] = list(file.dependencies)
    while pending:
        dep = pending.pop()
        if dep.name in WELL_KNOWN or dep.name in imports:
            continue
        imports[dep.name] = text_of(dep)
        pending.extend(dep.dependencies)
    return text_of(file), imports


def protobuf_indexes(message: PbMessage | type[PbMessage]) -> tuple[int, ...]:
    """A generated message's indexes in its file (Confluent's message indexes)."""
    desc: Any = message.DESCRIPTOR
    path: list[int] = []
    while desc is not None:
        parent = desc.containing_type
        if parent is None:
            order: list[Any] = list(desc.file.message_types_by_name.values())
        else:
            order = list(parent.nested_types)
        path.append(next(i for i, m in enumerate(order) if m.full_name == desc.full_name))
        desc = parent
    return tuple(reversed(path))


def plain(value: Any) -> Mapping[str, Any] | Any:
    """A decoded value as plain Python data: Protobuf messages as dicts (field names
    as in the schema), others as they are."""
    if isinstance(value, PbMessage):
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(value, preserving_proto_field_name=True)
    return value
