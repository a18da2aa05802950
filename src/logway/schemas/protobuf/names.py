"""Resolving a file's type names to full ones against what it sees (its own types and
those its imports export), and the checks protoc makes that the model can see:
numbers, names, labels, map keys, enum values, custom options.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import empty_pb2

from logway.errors import InvalidSchemaError
from logway.schemas.protobuf.descriptor import unknown_fields_of
from logway.schemas.protobuf.literals import float_text, quote
from logway.schemas.protobuf.model import (
    ENUM,
    GROUP,
    MAP_KEYS,
    MAX_FIELD,
    MESSAGE,
    SCALAR,
    SCALARS,
    Enum,
    Extend,
    Field,
    Message,
    Option,
    ProtoFile,
)

_IMPLEMENTATION_RESERVED = (19000, 19999)


@dataclass
class Scope:
    """What a file sees: its own types and extensions and those its imports export."""

    types: dict[str, Message | Enum] = field(default_factory=dict)
    extensions: dict[str, tuple[Extend, Field]] = field(default_factory=dict)

    def add(self, other: Scope) -> None:
        self.types.update(other.types)
        self.extensions.update(other.extensions)

    def find(self, name: str, scope: list[str], table: Mapping[str, Any]) -> str | None:
        """The full name ``name`` means in the scope ``scope`` (package and message
        names), looking outward from the innermost scope as protoc does."""
        if name.startswith("."):
            return name[1:] if name[1:] in table else None
        parts = list(scope)
        while True:
            candidate = ".".join([*parts, name])
            if candidate in table:
                return candidate
            if not parts:
                return None
            parts.pop()


def declared(proto: ProtoFile, where: str) -> Scope:
    out = Scope()
    prefix = f"{proto.package}." if proto.package else ""

    def define(name: str, element: Message | Enum) -> None:
        if name in out.types:
            raise InvalidSchemaError(f"invalid Protobuf schema{where}: {name} is defined twice")
        out.types[name] = element

    def extends(extends: list[Extend], scope: str) -> None:
        for extend in extends:
            for ext in extend.fields:
                out.extensions[scope + ext.name] = (extend, ext)

    def walk(scope: str, messages: list[Message], enums: list[Enum]) -> None:
        for message in messages:
            define(scope + message.name, message)
            extends(message.extends, f"{scope}{message.name}.")
            walk(f"{scope}{message.name}.", message.messages, message.enums)
        for enum in enums:
            define(scope + enum.name, enum)

    walk(prefix, proto.messages, proto.enums)
    extends(proto.extends, prefix)
    return out


class Resolver:
    """Resolves every type name of a file to a full one and checks what protoc checks
    that the model can see: numbers, names, labels, map keys, enum values."""

    def __init__(self, proto: ProtoFile, scope: Scope, where: str) -> None:
        self.proto, self.scope, self.where = proto, scope, where
        self.proto3 = proto.syntax == "proto3"

    def fail(self, what: str) -> InvalidSchemaError:
        return InvalidSchemaError(f"invalid Protobuf schema{self.where}: {what}")

    def run(self) -> None:
        proto = self.proto
        package = proto.package.split(".") if proto.package else []
        # extensions first: options anywhere in the file may be defined by them
        for extend, scope in self.extends(proto.extends, proto.messages, package):
            self.extend(extend, scope)
        self.options(proto.options, "google.protobuf.FileOptions", package)
        for message in proto.messages:
            self.message(message, package)
        for enum in proto.enums:
            self.enum(enum, ".".join([*package, enum.name]), package)
        for service in proto.services:
            self.options(service.options, "google.protobuf.ServiceOptions", package)
            for method in service.methods:
                where = f"service {service.name}, rpc {method.name}"
                method.input = self.type_name(method.input, package, where, messages_only=True)
                method.output = self.type_name(method.output, package, where, messages_only=True)
                self.options(method.options, "google.protobuf.MethodOptions", package)

    def type_name(
        self, name: str, scope: list[str], where: str, messages_only: bool = False
    ) -> str:
        full = self.scope.find(name, scope, self.scope.types)
        if full is None:
            raise self.fail(
                f"{where}: type {name!r} is not defined (declare it, or import the file that does)"
            )
        if messages_only and not isinstance(self.scope.types[full], Message):
            raise self.fail(f"{where}: {name!r} is not a message type")
        return "." + full

    def field(self, made: Field, scope: list[str], where: str) -> None:
        where = f"{where}, field {made.name}"
        if made.key is not None and made.key not in MAP_KEYS:
            raise self.fail(f"{where}: a map key is an integer, bool or string, not {made.key}")
        if made.type not in SCALARS:
            made.type = self.type_name(made.type, scope, where)
            element = self.scope.types[made.type[1:]]
            if made.kind != GROUP:
                made.kind = ENUM if isinstance(element, Enum) else MESSAGE
        elif made.kind != SCALAR:
            raise self.fail(f"{where}: {made.type} is a scalar type")
        if self.proto3 and made.label == "required":
            raise self.fail(f"{where}: required fields are not allowed in proto3")
        if self.proto3 and made.default is not None:
            raise self.fail(f"{where}: default values are not allowed in proto3")
        if self.proto3 and made.kind == GROUP:
            raise self.fail(f"{where}: groups are not allowed in proto3")
        self.options(made.options, "google.protobuf.FieldOptions", scope)

    def message(self, message: Message, outer: list[str]) -> None:
        scope = [*outer, message.name]
        full = ".".join(scope)
        where = f"message {full}"
        numbers: dict[int, str] = {}
        names: set[str] = set()
        for made in message.fields:
            if not 1 <= made.number <= MAX_FIELD:
                raise self.fail(
                    f"{where}: field {made.name} has number {made.number}; "
                    f"numbers run from 1 to {MAX_FIELD}"
                )
            low, high = _IMPLEMENTATION_RESERVED
            if low <= made.number <= high:
                raise self.fail(
                    f"{where}: field {made.name} uses number {made.number}, "
                    f"which protobuf reserves ({low} to {high})"
                )
            if made.number in numbers:
                raise self.fail(
                    f"{where}: fields {numbers[made.number]} and {made.name} "
                    f"both have number {made.number}"
                )
            if made.name in names:
                raise self.fail(f"{where}: two fields are named {made.name}")
            if any(start <= made.number <= end for start, end in message.reserved):
                raise self.fail(f"{where}: field {made.name} uses reserved number {made.number}")
            if made.name in message.reserved_names:
                raise self.fail(f"{where}: field name {made.name} is reserved")
            numbers[made.number] = made.name
            names.add(made.name)
            self.field(made, scope, where)
        self.options(message.options, "google.protobuf.MessageOptions", scope)
        for options in message.oneof_options.values():
            self.options(options, "google.protobuf.OneofOptions", scope)
        for nested in message.messages:
            self.message(nested, scope)
        for enum in message.enums:
            self.enum(enum, f"{full}.{enum.name}", scope)

    def extends(
        self, extends: list[Extend], messages: list[Message], scope: list[str]
    ) -> Iterator[tuple[Extend, list[str]]]:
        for extend in extends:
            yield extend, scope
        for message in messages:
            yield from self.extends(message.extends, message.messages, [*scope, message.name])

    def enum(self, enum: Enum, full: str, scope: list[str]) -> None:
        where = f"enum {full}"
        if not enum.values:
            raise self.fail(f"{where}: an enum needs at least one value")
        if self.proto3 and enum.values[0].number != 0:
            raise self.fail(f"{where}: the first value of a proto3 enum must be 0")
        aliases = any(o.name == "allow_alias" and o.value == "true" for o in enum.options)
        numbers: dict[int, str] = {}
        for value in enum.values:
            if value.number in numbers and not aliases:
                raise self.fail(
                    f"{where}: values {numbers[value.number]} and {value.name} both "
                    f"have number {value.number} (set option allow_alias = true)"
                )
            if value.name in numbers.values():
                raise self.fail(f"{where}: two values are named {value.name}")
            numbers.setdefault(value.number, value.name)
            self.options(value.options, "google.protobuf.EnumValueOptions", scope)
        self.options(enum.options, "google.protobuf.EnumOptions", scope)

    def extend(self, extend: Extend, scope: list[str]) -> None:
        where = f"extend {extend.extendee}"
        extend.extendee = self.type_name(extend.extendee, scope, where, messages_only=True)
        for ext in extend.fields:
            self.field(ext, scope, where)

    def options(self, options: list[Option], owner: str, scope: list[str]) -> None:
        """Custom option names in full (the extensions of ``owner``, the options
        message); a descriptor's custom options decoded."""
        for option in options:
            if option.raw is not None:
                self.decode(option, scope)
            elif option.name.startswith("("):
                inner, _, rest = option.name[1:].partition(")")
                table = {
                    name
                    for name, (extend, _) in self.scope.extensions.items()
                    if extend.extendee.lstrip(".") == owner
                }
                full = self.scope.find(inner, scope, dict.fromkeys(table))
                if full is not None:
                    option.name = f"({full}){rest}"

    def decode(self, option: Option, scope: list[str]) -> None:
        assert option.raw is not None
        owner, number, wire, data = option.raw
        for name, (extend, ext) in self.scope.extensions.items():
            if extend.extendee.lstrip(".") == owner and ext.number == number:
                option.name, option.value, option.raw = (
                    f"({name})",
                    self.value(ext, wire, data),
                    None,
                )
                return
        raise self.fail(
            f"an option of {owner} has number {number}, which no extension "
            "of the file or its imports defines"
        )

    def value(self, ext: Field, wire: int, data: Any) -> str:
        """A custom option's value from its wire form, as .proto text."""
        kind, type_name = ext.kind, ext.type
        if wire == 0:
            number = int(data)
            if type_name == "bool":
                return "true" if number else "false"
            if type_name in ("sint32", "sint64"):
                return str((number >> 1) ^ -(number & 1))
            signed = number - (1 << 64) if number >= 1 << 63 else number
            if kind == ENUM:
                enum = self.scope.types.get(type_name[1:])
                if isinstance(enum, Enum):
                    return next((v.name for v in enum.values if v.number == signed), str(signed))
            return str(signed if type_name in ("int32", "int64") else number)
        if wire in (1, 5):
            bits = 64 if wire == 1 else 32
            if type_name in ("double", "float"):
                fmt = ("<Q", "<d") if wire == 1 else ("<I", "<f")
                return float_text(struct.unpack(fmt[1], struct.pack(fmt[0], data))[0])
            if type_name.startswith("sfixed") and data >= 1 << (bits - 1):
                return str(data - (1 << bits))
            return str(data)
        if wire == 2 and isinstance(data, bytes):
            if type_name == "string":
                return quote(data.decode("utf-8", "replace"))
            if type_name == "bytes":
                return quote(data.decode("latin-1"))
            message = self.scope.types.get(type_name[1:])
            if isinstance(message, Message):
                by_number = {f.number: f for f in message.fields}
                parts = []
                for unknown in unknown_fields_of(empty_pb2.Empty.FromString(data)):
                    inner = by_number.get(unknown.field_number)
                    if inner is not None:
                        value = self.value(inner, unknown.wire_type, unknown.data)
                        parts.append(f"{inner.name}: {value}")
                return "{ " + " ".join(sorted(parts)) + " }" if parts else "{}"
        return quote(repr(data))
