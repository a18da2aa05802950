"""Reading the base64 of a serialized ``FileDescriptorProto`` (what confluent-kafka's
``ProtobufSerializer`` registers) into the model, as Confluent reads one; custom
options stay raw until the names module knows the extensions that define them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import descriptor_pb2, unknown_fields
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as PbMessage

from logway.errors import InvalidSchemaError
from logway.schemas.protobuf.literals import default_text, float_text, quote, unescape
from logway.schemas.protobuf.model import (
    ENUM,
    GROUP,
    MESSAGE,
    SCALAR,
    Enum,
    EnumValue,
    Extend,
    Field,
    Message,
    Method,
    Option,
    ProtoFile,
    Service,
)

_LABELS = {1: "optional", 2: "required", 3: "repeated"}


def _pb_literal(descriptor: Any, value: Any) -> str:
    if descriptor.enum_type is not None:
        found = descriptor.enum_type.values_by_number.get(value)
        return found.name if found is not None else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, bytes):
        return quote(value.decode("latin-1"))
    if isinstance(value, str):
        return quote(value)
    return str(value)


def unknown_fields_of(message: PbMessage) -> list[Any]:
    """A message's unknown fields (number, wire type, data)."""
    found = unknown_fields.UnknownFieldSet(message)
    return [found[i] for i in range(len(found))]


def _pb_fields(message: PbMessage) -> list[tuple[str, str]]:
    """A message's set fields as (name, value as .proto text), a repeated one once a
    value."""
    out = []
    for descriptor, value in message.ListFields():
        for one in list(value) if descriptor.is_repeated else [value]:
            if descriptor.message_type is not None:
                parts = sorted(f"{n}: {v}" for n, v in _pb_fields(one))
                out.append((descriptor.name, "{ " + " ".join(parts) + " }" if parts else "{}"))
            else:
                out.append((descriptor.name, _pb_literal(descriptor, one)))
    return out


def _pb_options(options: PbMessage) -> list[Option]:
    """Options a descriptor holds: its known fields by name, custom ones kept raw
    until the extensions that define them are known."""
    out = [Option(name, value) for name, value in _pb_fields(options)]
    owner = options.DESCRIPTOR.full_name
    for unknown in unknown_fields_of(options):
        raw = (owner, unknown.field_number, unknown.wire_type, unknown.data)
        out.append(Option("", "", raw))
    return out


class DescriptorReader:
    """A ``ProtoFile`` from a FileDescriptorProto, read as Confluent reads one
    (``ProtobufSchema.toProtoFile``): proto3 labels dropped where .proto text has none,
    synthetic oneofs of proto3 ``optional`` fields gone, map entry messages as maps."""

    def __init__(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        self.proto = proto
        self.syntax = proto.syntax or "proto2"

    def file(self) -> ProtoFile:
        proto = self.proto
        if self.syntax not in ("proto2", "proto3", "editions"):
            raise InvalidSchemaError(f'invalid Protobuf descriptor: unknown syntax "{self.syntax}"')
        edition = ""
        if self.syntax == "editions":
            name = descriptor_pb2.Edition.Name(proto.edition)
            edition = name.removeprefix("EDITION_")
        out = ProtoFile(self.syntax, edition, proto.package)
        public, weak = set(proto.public_dependency), set(proto.weak_dependency)
        for index, path in enumerate(proto.dependency):
            target = (
                out.public_imports
                if index in public
                else out.weak_imports
                if index in weak
                else out.imports
            )
            target.append(path)
        out.options = _pb_options(proto.options)
        out.messages = [self.message(m) for m in proto.message_type]
        out.enums = [self.enum(e) for e in proto.enum_type]
        out.extends = self.extends(proto.extension)
        for service in proto.service:
            out.services.append(
                Service(
                    service.name,
                    [
                        Method(
                            m.name,
                            m.input_type,
                            m.output_type,
                            m.client_streaming,
                            m.server_streaming,
                            _pb_options(m.options),
                        )
                        for m in service.method
                    ],
                    _pb_options(service.options),
                )
            )
        return out

    def field(
        self,
        proto: descriptor_pb2.FieldDescriptorProto,
        oneofs: list[str] | None = None,
        maps: Mapping[str, descriptor_pb2.DescriptorProto] | None = None,
    ) -> Field:
        kind = {proto.TYPE_MESSAGE: MESSAGE, proto.TYPE_ENUM: ENUM, proto.TYPE_GROUP: GROUP}
        type_kind = kind.get(proto.type, SCALAR if proto.type else MESSAGE)
        if type_kind == SCALAR:
            type_name = descriptor_pb2.FieldDescriptorProto.Type.Name(proto.type)
            type_name = type_name.removeprefix("TYPE_").lower()
        else:
            type_name = proto.type_name
        oneof = None
        if proto.HasField("oneof_index") and not proto.proto3_optional and oneofs is not None:
            if proto.oneof_index >= len(oneofs):
                raise InvalidSchemaError(
                    f"invalid Protobuf descriptor: field {proto.name} names oneof "
                    f"{proto.oneof_index}, which is not declared"
                )
            oneof = oneofs[proto.oneof_index]
        label: str | None = _LABELS.get(proto.label)
        if proto.proto3_optional:
            label = "optional"
        elif oneof is not None or (self.syntax != "proto2" and label != "repeated"):
            label = None  # as .proto text writes it: no label
        made = Field(proto.name, proto.number, label, type_name, type_kind, oneof=oneof)
        entry = (maps or {}).get(type_name)
        if entry is not None and label == "repeated":
            key, value = (self.field(f) for f in sorted(entry.field, key=lambda f: f.number))
            made.label, made.key, made.type, made.kind = None, key.type, value.type, value.kind
        if proto.HasField("default_value"):
            raw: Any = proto.default_value
            if type_name == "bytes":
                raw = unescape(raw)
            made.default = default_text(type_name, raw)
        if proto.HasField("json_name"):
            made.json_name = proto.json_name
        made.options = _pb_options(proto.options)
        return made

    def message(self, proto: descriptor_pb2.DescriptorProto, scope: str = "") -> Message:
        full = f"{scope}.{proto.name}" if scope else self._full(proto.name)
        out = Message(proto.name)
        maps = {
            f"{full}.{nested.name}": nested
            for nested in proto.nested_type
            if nested.options.map_entry
        }
        # proto3 optional fields sit in synthetic oneofs; Confluent shows them as fields
        real = [
            o.name
            for i, o in enumerate(proto.oneof_decl)
            if not all(
                f.proto3_optional
                for f in proto.field
                if f.HasField("oneof_index") and f.oneof_index == i
            )
        ]
        names = [o.name for o in proto.oneof_decl]
        for proto_field in proto.field:
            out.fields.append(self.field(proto_field, names, maps))
        out.oneofs = [n for n in real if any(f.oneof == n for f in out.fields)]
        for oneof in proto.oneof_decl:
            if oneof.name in out.oneofs:
                out.oneof_options[oneof.name] = _pb_options(oneof.options)
        out.messages = [
            self.message(n, full) for n in proto.nested_type if f"{full}.{n.name}" not in maps
        ]
        out.enums = [self.enum(e) for e in proto.enum_type]
        out.reserved = [(r.start, r.end - 1) for r in proto.reserved_range]
        out.reserved_names = list(proto.reserved_name)
        out.extension_ranges = [(r.start, r.end - 1) for r in proto.extension_range]
        out.extends = self.extends(proto.extension)
        out.options = _pb_options(proto.options)
        return out

    def _full(self, name: str) -> str:
        package = self.proto.package
        return f".{package}.{name}" if package else f".{name}"

    def enum(self, proto: descriptor_pb2.EnumDescriptorProto) -> Enum:
        return Enum(
            proto.name,
            [EnumValue(v.name, v.number, _pb_options(v.options)) for v in proto.value],
            [(r.start, r.end) for r in proto.reserved_range],
            list(proto.reserved_name),
            _pb_options(proto.options),
        )

    def extends(self, fields: Iterable[descriptor_pb2.FieldDescriptorProto]) -> list[Extend]:
        out: dict[str, Extend] = {}
        for proto in fields:
            out.setdefault(proto.extendee, Extend(proto.extendee)).fields.append(self.field(proto))
        return list(out.values())


_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}\s*$")


def read_descriptor(text: str) -> ProtoFile | str:
    """The file a base64 ``FileDescriptorProto`` holds, or why ``text`` is not one."""
    if not _BASE64.match(text):
        return "not base64"
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
        proto = descriptor_pb2.FileDescriptorProto.FromString(data)
    except (binascii.Error, ValueError, DecodeError) as exc:
        return str(exc) or type(exc).__name__
    if not (proto.name or proto.package or proto.message_type or proto.enum_type):
        return "it decodes to an empty FileDescriptorProto"
    try:
        return DescriptorReader(proto).file()
    except (ValueError, KeyError, StopIteration) as exc:
        raise InvalidSchemaError(f"invalid Protobuf descriptor: {exc}") from None
