"""The model a Protobuf schema is read into, from .proto text or a descriptor alike:
a file's messages, fields, enums, extensions and services (as Confluent's model has
them), the scalar types and their wire groups, and a parsed schema with its imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# How a scalar is read off the wire: types in one group read each other's data
# (protobuf's "Updating A Message Type"; Confluent's FieldSchemaDiff.ScalarKind).
WIRE_GROUP = {
    **dict.fromkeys(("int32", "int64", "uint32", "uint64", "bool"), "varint"),
    **dict.fromkeys(("sint32", "sint64"), "zigzag"),
    **dict.fromkeys(("fixed32", "sfixed32"), "fixed32"),
    **dict.fromkeys(("fixed64", "sfixed64"), "fixed64"),
    "float": "float",
    "double": "double",
    **dict.fromkeys(("string", "bytes"), "string"),
}
SCALARS = frozenset(WIRE_GROUP)
MAP_KEYS = SCALARS - {"double", "float", "bytes"}
INTEGERS = SCALARS - {"double", "float", "bool", "string", "bytes"}
MAX_FIELD = (1 << 29) - 1
MAX_ENUM = (1 << 31) - 1

# element kinds of a field's type
SCALAR, ENUM, MESSAGE, GROUP = "scalar", "enum", "message", "group"


@dataclass
class Option:
    """``name = value``, the value as .proto text writes it (``"x"``, ``true``,
    ``SPEED``, ``{ doc: "x" }``). ``raw`` holds a custom option a descriptor carries as
    an unknown field (options message, number, wire type, data) until it is decoded."""

    name: str
    value: str
    raw: tuple[str, int, int, Any] | None = None


@dataclass(eq=False)
class Field:
    """A field; ``type`` is a scalar's name or a full name with a leading dot (a map's
    value type when ``key`` is set); ``label`` is None where .proto text writes none
    (proto3's implicit presence, oneof members, maps), as Confluent's model has it."""

    name: str
    number: int
    label: str | None
    type: str
    kind: str = SCALAR
    key: str | None = None
    oneof: str | None = None
    options: list[Option] = field(default_factory=list)
    default: str | None = None
    json_name: str | None = None


@dataclass
class EnumValue:
    name: str
    number: int
    options: list[Option] = field(default_factory=list)


@dataclass(eq=False)
class Enum:
    name: str
    values: list[EnumValue] = field(default_factory=list)
    reserved: list[tuple[int, int]] = field(default_factory=list)  # inclusive
    reserved_names: list[str] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)


@dataclass(eq=False)
class Extend:
    extendee: str
    fields: list[Field] = field(default_factory=list)


@dataclass(eq=False)
class Message:
    name: str
    fields: list[Field] = field(default_factory=list)
    oneofs: list[str] = field(default_factory=list)
    oneof_options: dict[str, list[Option]] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)  # group bodies too
    enums: list[Enum] = field(default_factory=list)
    reserved: list[tuple[int, int]] = field(default_factory=list)  # inclusive
    reserved_names: list[str] = field(default_factory=list)
    extension_ranges: list[tuple[int, int]] = field(default_factory=list)  # inclusive
    extends: list[Extend] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)

    def group_bodies(self) -> set[str]:
        return {f.type.rpartition(".")[2] for f in self.fields if f.kind == GROUP}


@dataclass
class Method:
    name: str
    input: str
    output: str
    client_streaming: bool = False
    server_streaming: bool = False
    options: list[Option] = field(default_factory=list)


@dataclass
class Service:
    name: str
    methods: list[Method] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)


@dataclass(eq=False)
class ProtoFile:
    syntax: str = "proto2"  # "proto2", "proto3" or "editions"
    edition: str = ""
    package: str = ""
    imports: list[str] = field(default_factory=list)
    public_imports: list[str] = field(default_factory=list)
    weak_imports: list[str] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    enums: list[Enum] = field(default_factory=list)
    extends: list[Extend] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)

    def all_imports(self) -> list[str]:
        return [*self.imports, *self.public_imports, *self.weak_imports]


@dataclass(frozen=True)
class TypeInfo:
    """A message or enum by full name (no leading dot), and where it comes from:
    ``source`` "" for the schema itself, else the import path, and ``version`` the
    canonical text of that file, so two versions of one reference differ."""

    element: Message | Enum
    full_name: str
    package: str
    source: str = ""
    version: str = ""

    @property
    def local_name(self) -> str:
        """The name within its package (Confluent compares message types by it)."""
        if self.package and self.full_name.startswith(self.package + "."):
            return self.full_name[len(self.package) + 1 :]
        return self.full_name


@dataclass(eq=False)
class ProtobufSchema:
    """A parsed schema: its file, the files it imports (by import path, directly or
    not) and every message and enum of them all by full name."""

    file: ProtoFile
    dependencies: dict[str, ProtoFile]
    types: dict[str, TypeInfo]
