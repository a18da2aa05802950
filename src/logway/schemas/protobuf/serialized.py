"""Writing a schema as a ``FileDescriptorProto``, for the ``serialized`` format:
from the model, as protoc would write the file and as Confluent's
``ProtobufSchema.formattedString("serialized")`` writes it from its own.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, text_format
from google.protobuf.message import Message as PbMessage

from logway.schemas.protobuf.canonical import json_name
from logway.schemas.protobuf.literals import unescape
from logway.schemas.protobuf.model import (
    ENUM,
    GROUP,
    MESSAGE,
    Enum,
    Extend,
    Field,
    Message,
    Option,
    ProtoFile,
)

FILE_NAME = "default"  # Confluent's ProtobufSchema.DEFAULT_NAME, the file's name in it

_FieldProto = descriptor_pb2.FieldDescriptorProto
_LABELS = {
    "optional": _FieldProto.LABEL_OPTIONAL,
    "required": _FieldProto.LABEL_REQUIRED,
    "repeated": _FieldProto.LABEL_REPEATED,
}
_KINDS = {
    MESSAGE: _FieldProto.TYPE_MESSAGE,
    ENUM: _FieldProto.TYPE_ENUM,
    GROUP: _FieldProto.TYPE_GROUP,
}


def descriptor(proto: ProtoFile) -> descriptor_pb2.FileDescriptorProto:
    """The file as a ``FileDescriptorProto``, as protoc would write it: map fields as
    repeated entry messages, proto3 ``optional`` fields in synthetic oneofs, ranges
    end-exclusive. Custom options are left out, as Confluent leaves them out (but its
    own); the standard ones are kept."""
    out = descriptor_pb2.FileDescriptorProto(name=FILE_NAME)
    if proto.package:
        out.package = proto.package
    if proto.syntax != "proto2":  # protoc leaves proto2's syntax unset
        out.syntax = proto.syntax
    known = descriptor_pb2.Edition.DESCRIPTOR.values_by_name.get(f"EDITION_{proto.edition}")
    if proto.syntax == "editions" and known is not None:  # one protobuf does not know: unset
        out.edition = descriptor_pb2.Edition.Value(known.name)
    out.dependency.extend([*proto.imports, *proto.public_imports, *proto.weak_imports])
    first_public = len(proto.imports)
    first_weak = first_public + len(proto.public_imports)
    out.public_dependency.extend(range(first_public, first_weak))
    out.weak_dependency.extend(range(first_weak, len(out.dependency)))
    scope = f".{proto.package}" if proto.package else ""
    proto3 = proto.syntax == "proto3"
    out.message_type.extend(_message(m, scope, proto3) for m in proto.messages)
    out.enum_type.extend(_enum(e) for e in proto.enums)
    out.extension.extend(_extensions(proto.extends))
    for service in proto.services:
        made = out.service.add(name=service.name)
        for method in service.methods:
            one = made.method.add(
                name=method.name, input_type=method.input, output_type=method.output
            )
            if method.client_streaming:
                one.client_streaming = True
            if method.server_streaming:
                one.server_streaming = True
            _options(method.options, one.options)
        _options(service.options, made.options)
    _options(proto.options, out.options)
    return out


def _message(message: Message, scope: str, proto3: bool) -> descriptor_pb2.DescriptorProto:
    full = f"{scope}.{message.name}"
    out = descriptor_pb2.DescriptorProto(name=message.name)
    for nested in message.messages:
        out.nested_type.append(_message(nested, full, proto3))
    out.enum_type.extend(_enum(e) for e in message.enums)
    for oneof in message.oneofs:
        _options(message.oneof_options.get(oneof, []), out.oneof_decl.add(name=oneof).options)
    synthetic = []
    for field in message.fields:
        made = _field(field)
        if field.oneof is not None:
            made.oneof_index = message.oneofs.index(field.oneof)
        elif proto3 and field.label == "optional":
            made.proto3_optional = True
            synthetic.append(len(out.field))
        if field.key is not None:  # a map: repeated entries of a nested message
            entry = out.nested_type.add(name=_map_entry_name(field.name))
            entry.options.map_entry = True
            entry.field.append(_field(Field("key", 1, "optional", field.key)))
            value = Field("value", 2, "optional", field.type, field.kind)
            entry.field.append(_field(value))
            made.label, made.type = _FieldProto.LABEL_REPEATED, _FieldProto.TYPE_MESSAGE
            made.type_name = f"{full}.{entry.name}"
        out.field.append(made)
    for index in synthetic:  # after the real oneofs, as protoc puts them
        out.field[index].oneof_index = len(out.oneof_decl)
        out.oneof_decl.add(name=f"_{out.field[index].name}")
    for start, end in message.reserved:
        out.reserved_range.add(start=start, end=end + 1)
    out.reserved_name.extend(message.reserved_names)
    for start, end in message.extension_ranges:
        out.extension_range.add(start=start, end=end + 1)
    out.extension.extend(_extensions(message.extends))
    _options(message.options, out.options)
    return out


def _field(field: Field, extendee: str | None = None) -> descriptor_pb2.FieldDescriptorProto:
    out = _FieldProto(name=field.name, number=field.number)
    out.label = _LABELS.get(field.label or "optional", _FieldProto.LABEL_OPTIONAL)
    if field.kind in _KINDS:
        out.type, out.type_name = _KINDS[field.kind], field.type
    else:
        out.type = _FieldProto.Type.Value(f"TYPE_{field.type.upper()}")
    if extendee is not None:
        out.extendee = extendee
    if field.default is not None:
        out.default_value = _default(field)
    if field.json_name is not None:
        out.json_name = field.json_name
    _options(field.options, out.options)
    return out


def _default(field: Field) -> str:
    """A ``default`` as a descriptor holds it: a string's value, a bytes value
    C-escaped, anything else as .proto text writes it."""
    value = field.default or ""
    if field.type not in ("string", "bytes") or len(value) < 2:
        return value
    text = unescape(value[1:-1])
    if field.type == "string":
        return text
    return "".join(_escaped(ord(c)) for c in text)


def _escaped(code: int) -> str:
    """A byte as protoc's ``CEscape`` writes it."""
    named = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x27: "\\'", 0x5C: "\\\\"}
    if code in named:
        return named[code]
    return chr(code) if 0x20 <= code < 0x7F else f"\\{code & 0xFF:03o}"


def _map_entry_name(field: str) -> str:
    """protoc's ``MapEntryName``: ``tags_by_id`` -> ``TagsByIdEntry`` (its JSON name,
    first letter up)."""
    return json_name("_" + field) + "Entry"


def _enum(enum: Enum) -> descriptor_pb2.EnumDescriptorProto:
    out = descriptor_pb2.EnumDescriptorProto(name=enum.name)
    for value in enum.values:
        _options(value.options, out.value.add(name=value.name, number=value.number).options)
    for start, end in enum.reserved:  # an enum's ranges are inclusive
        out.reserved_range.add(start=start, end=end)
    out.reserved_name.extend(enum.reserved_names)
    _options(enum.options, out.options)
    return out


def _extensions(extends: list[Extend]) -> list[descriptor_pb2.FieldDescriptorProto]:
    return [_field(f, extend.extendee) for extend in extends for f in extend.fields]


def _options(options: list[Option], into: PbMessage) -> None:
    """The standard options, by name (``java_package``, ``deprecated``, ``features``...),
    into an options message; a custom one, ``(name)``, or one this protobuf does not
    know, is left out."""
    for option in options:
        if not option.name or option.name.startswith("("):
            continue
        try:
            text_format.Merge(f"{option.name}: {option.value}", into)
        except text_format.ParseError:
            continue
