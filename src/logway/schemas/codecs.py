"""Reading and writing data with a registered schema, one codec per schema type:
Protobuf (a message class built from the schema's descriptors), Avro (binary
encoding, resolved by the ``avro`` package) and JSON Schema (UTF-8 JSON checked by
the schema's validator). A codec is made once per schema id and kept.

``decode`` raises ``InvalidRecordError`` saying why the bytes are not data of the
schema; it is what enforcement on produce runs for a record. A batch of Protobuf
records alike in their header is parsed at once first (``BatchParser``).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any, Protocol

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as PbMessage

from logway.errors import InvalidRecordError
from logway.schemas.kinds import AVRO, JSON, PROTOBUF
from logway.schemas.protobuf.model import ProtobufSchema
from logway.schemas.protobuf.serialized import FILE_NAME, descriptor
from logway.schemas.wire import FIRST_MESSAGE, HEADER, message_indexes, uvarint


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
        self._batch: BatchParser | None = None
        self._batch_made = False
        self._batch_lock = threading.Lock()

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

    def batch_parser(self) -> BatchParser | None:
        """The ``BatchParser`` of the file's first message, the one whose message
        indexes are the single byte ``0`` (None: there is none)."""
        if not self._batch_made:
            with self._batch_lock:
                if not self._batch_made:
                    try:
                        self._batch = BatchParser.made(self.pool, self.message_class(FIRST_MESSAGE))
                    except InvalidRecordError:  # the file has no message
                        self._batch = None
                    self._batch_made = True
        return self._batch

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


_LAST_FIELD = (1 << 29) - 1  # the largest field number Protobuf allows


class BatchParser:
    """Many records of one Protobuf message type, each in the wire format with the same
    header (magic byte, schema id, message indexes ``0``: ``HEAD`` bytes), parsed as one
    message: a list of the type (field 1, repeated) in a message added to the schema's
    pool. Each record becomes an element of that list, its exact length before it, and
    its header is read as an unknown bytes field of the element (a field number the
    type neither has nor keeps for extensions), so no record is cut or copied on its
    own; the rest of the element is the record's data.

    A batch that parses holds only records each of which parses alone: an element is
    bounded by its length and is the type's data with one unknown field more. One that
    does not, or any record not of the header, is left to the record-by-record check
    (nested one level deeper, an element reaches the depth limit one level sooner).
    """

    HEAD = HEADER + 1

    def __init__(self, cls: type[PbMessage], field: int) -> None:
        self.parse = cls.FromString
        self._prefixes = _Prefixes(uvarint(field << 3 | 2) + uvarint(self.HEAD))

    @staticmethod
    def made(pool: Any, message: type[PbMessage]) -> BatchParser | None:
        desc: Any = message.DESCRIPTOR
        if desc.GetOptions().message_set_wire_format:
            return None
        taken = set(desc.fields_by_number)
        ranges = desc.extension_ranges
        field = next(
            (
                n
                for n in range(_LAST_FIELD, _LAST_FIELD - 64, -1)
                if n not in taken and not any(lo <= n < hi for lo, hi in ranges)
            ),
            None,
        )
        if field is None:
            return None
        name = "logway_batch_"
        while True:
            try:
                pool.FindFileByName(f"{name}.proto")
            except KeyError:
                break
            name += "_"
        batch = descriptor_pb2.FileDescriptorProto(
            name=f"{name}.proto", package=name, dependency=[desc.file.name]
        )
        batch.message_type.add(name="Batch").field.add(
            name="records",
            number=1,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            type_name=f".{desc.full_name}",
        )
        try:
            pool.Add(batch)
        except TypeError:  # a name of the schema's own files clashes
            return None
        return BatchParser(
            message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{name}.Batch")), field
        )

    def accepts(self, head: bytes, records: Sequence[Any]) -> bool:
        """Whether every one of ``records`` (bytes each, else False) starts with
        ``head`` (``HEAD`` bytes) and parses as the type."""
        if len(head) != self.HEAD:
            return False
        try:
            if not all(map(bytes.startswith, records, repeat(head))):
                return False
        except TypeError:
            return False
        parts: list[bytes | None] = [None] * (2 * len(records))
        parts[::2] = map(self._prefixes.__getitem__, map(len, records))
        parts[1::2] = records
        try:
            self.parse(b"".join(parts))  # type: ignore[arg-type]
        except DecodeError:
            return False
        return True


class _Prefixes(dict[int, bytes]):
    """What goes before a record of each size in a ``BatchParser``'s batch: field 1's
    tag, the element's length, and the unknown field's tag and length (``skip``) that
    take in the record's header."""

    def __init__(self, skip: bytes) -> None:
        super().__init__()
        self.skip = skip

    def __missing__(self, size: int) -> bytes:
        if len(self) >= 4096:
            self.clear()
        found = self[size] = b"\x0a" + uvarint(len(self.skip) + size) + self.skip
        return found


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
    """A decoded value as plain Python data: a Protobuf message as a dict of every
    field by its name in the schema (numbers stay numbers, unlike Protobuf's JSON
    mapping of 64-bit integers; enums by name; unset sub-messages None), others as
    they are."""
    if isinstance(value, PbMessage):
        return _message_data(value)
    return value


def _message_data(message: PbMessage) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        data = getattr(message, field.name)
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            inner = entry.fields_by_name["value"]
            out[field.name] = {k: _single(inner, v) for k, v in data.items()}
        elif field.is_repeated:
            out[field.name] = [_single(field, v) for v in data]
        elif entry is not None and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _single(field, data)
    return out


def _single(field: Any, data: Any) -> Any:
    if field.message_type is not None:
        return _message_data(data)
    if field.enum_type is not None:
        known = field.enum_type.values_by_number.get(data)
        return known.name if known is not None else data
    return data
