"""Protobuf schemas, as Confluent Schema Registry reads, names and compares them.

A schema is either a ``.proto`` file's text (proto2, proto3 or an edition, parsed with
``proto-schema-parser``) or the base64 of a serialized ``FileDescriptorProto``, which is
what confluent-kafka's ``ProtobufSerializer`` registers. Both become one model
(``ProtoFile``: package, imports, options, messages with their fields, oneofs, maps,
nested messages and enums, reserved numbers and names, extensions, services), every type
name resolved to its full name against the file, its imports and the well-known
``google/protobuf/*.proto`` files, which resolve without a reference, as in Confluent.
``references`` map an import path (``"other.proto"``) to the text of that file, in
either form.

``canonical`` writes the model back as ``.proto`` text, free of layout and comments:
type names in full (``.pkg.Msg``), maps as ``map<K, V>``, options sorted, a
``json_name`` only when it is not the default one, so a file and its descriptor have one
canonical text. With ``normalize``, also what Confluent's normalization orders: fields
and oneof members by number, oneofs by their first number, enum values by number,
reserved ranges and imports sorted. Messages and enums keep their order, as Confluent
keeps it: the wire format's message indexes name a message by its position.

``problems(reader, writer)`` applies Confluent's Protobuf compatibility rules
(``io.confluent.kafka.schemaregistry.protobuf.diff``). Confluent's
``update.isBackwardCompatible(original)`` diffs ``original`` (the schema the data was
written with) against ``update`` (the schema reading it): BACKWARD checks
``new.isBackwardCompatible(old)`` and FORWARD ``old.isBackwardCompatible(new)``. So
``problems(reader, writer)`` is that diff with ``original=writer`` and
``update=reader``, keeping the differences Confluent does not list as compatible
(``SchemaDiff.COMPATIBLE_CHANGES``); "changed from X to Y" reads writer to reader.

Compatible: adding or removing a field (outside a oneof), a message, an enum or an enum
value, renaming a field or an enum value, changing a scalar to one read the same way on
the wire (int32, int64, uint32, uint64, bool and enums; sint32 and sint64; fixed32 and
sfixed32; fixed64 and sfixed64; string and bytes), optional to repeated for strings,
bytes and messages, reordering messages, adding or renaming a oneof, moving one field
into a new oneof, or a field out of its oneof. Incompatible, one line each:

- the package changes;
- a message of the writer's schema is missing from the reader's (removed or renamed);
- a field changes between scalar, message and map, or to a scalar read differently;
- a numeric field changes label (optional, repeated, required, where both have one);
- a field's message type changes name, or changes incompatibly when it comes from a
  different reference (the changes inside are listed too);
- a map's key or value type changes so;
- a required field is added or removed;
- a oneof member is removed while its oneof, or another of its members, survives;
- fields that could be set together become members of one oneof.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from antlr4.error.ErrorListener import ErrorListener  # type: ignore[import-untyped]
from google.protobuf import descriptor_pb2, empty_pb2, unknown_fields
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as PbMessage
from proto_schema_parser import ast
from proto_schema_parser.parser import Parser

from logway.errors import InvalidSchemaError
from logway.schemas.kinds import PROTOBUF

# How a scalar is read off the wire: types in one group read each other's data
# (protobuf's "Updating A Message Type"; Confluent's FieldSchemaDiff.ScalarKind).
_WIRE_GROUP = {
    **dict.fromkeys(("int32", "int64", "uint32", "uint64", "bool"), "varint"),
    **dict.fromkeys(("sint32", "sint64"), "zigzag"),
    **dict.fromkeys(("fixed32", "sfixed32"), "fixed32"),
    **dict.fromkeys(("fixed64", "sfixed64"), "fixed64"),
    "float": "float",
    "double": "double",
    **dict.fromkeys(("string", "bytes"), "string"),
}
SCALARS = frozenset(_WIRE_GROUP)
_MAP_KEYS = SCALARS - {"double", "float", "bytes"}
_INTEGERS = SCALARS - {"double", "float", "bool", "string", "bytes"}
MAX_FIELD = (1 << 29) - 1
MAX_ENUM = (1 << 31) - 1
_IMPLEMENTATION_RESERVED = (19000, 19999)

# Imports that resolve without a reference (Confluent's ProtobufSchema.KNOWN_DEPENDENCIES
# holds these and more), read from the protobuf package's own descriptors.
WELL_KNOWN = {
    f"google/protobuf/{name}.proto": f"google.protobuf.{name}_pb2"
    for name in (
        *("any", "api", "descriptor", "duration", "empty", "field_mask", "source_context"),
        *("struct", "timestamp", "type", "wrappers"),
    )
}

# element kinds of a field's type
SCALAR, ENUM, MESSAGE, GROUP = "scalar", "enum", "message", "group"
_LABELS = {1: "optional", 2: "required", 3: "repeated"}


# --- the model ---------------------------------------------------------------------


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


# --- literals ----------------------------------------------------------------------

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"?])|[xX]([0-9a-fA-F]{1,2})|([0-7]{1,3})|u([0-9a-fA-F]{4})"
    r"|U([0-9a-fA-F]{8}))"
)


def _unescape(text: str) -> str:
    """A string literal's value from its text between the quotes."""

    def one(match: re.Match[str]) -> str:
        simple, hex_, octal, u4, u8 = match.groups()
        if simple:
            return _ESCAPES.get(simple, simple)
        if hex_ or octal:
            return chr(int(hex_, 16) if hex_ else int(octal, 8))
        return chr(int(u4 or u8, 16))

    return _ESCAPE.sub(one, text)


_ADJACENT = re.compile(r"""(?<!\\)(?:"\s*"|'\s*')""")


def _string(text: str) -> str:
    """A string literal's value from the parser's text of it: outer quotes gone,
    adjacent literals (``"a" "b"``) still to join."""
    return _unescape(_ADJACENT.sub("", text))


def _quote(value: str) -> str:
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\{ord(char):03o}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _number(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _literal(value: Any) -> str:
    """An option value from the parser as .proto text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, ast.Identifier):
        return value.name
    if isinstance(value, str):
        return _quote(_string(value))
    if isinstance(value, ast.MessageLiteral):
        parts = sorted(
            f"{e.name}: {_literal(e.value)}"
            for e in value.elements
            if isinstance(e, ast.MessageLiteralField)
        )
        return "{ " + " ".join(parts) + " }" if parts else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return str(value)


def _default(type_name: str, value: Any) -> str:
    """A ``default`` as .proto text, the same from text and from a descriptor."""
    if type_name in ("string", "bytes"):
        return _quote(value if isinstance(value, str) else str(value))
    if type_name in ("double", "float"):
        if isinstance(value, ast.Identifier):
            value = value.name
        try:
            return _number(float(value))
        except (TypeError, ValueError):
            return str(value)
    if type_name == "bool":
        return _literal(value) if isinstance(value, bool) else str(value).lower()
    if type_name in _INTEGERS:
        try:
            return str(int(str(value), 0))
        except ValueError:
            return str(value)
    return value.name if isinstance(value, ast.Identifier) else str(value)


def json_name(name: str) -> str:
    """The JSON name protoc gives a field (``user_id`` -> ``userId``)."""
    out, upper = [], False
    for char in name:
        if char == "_":
            upper = True
        elif upper:
            out.append(char.upper())
            upper = False
        else:
            out.append(char)
    return "".join(out)


# --- reading .proto text -----------------------------------------------------------


class _RaiseOnError(ErrorListener):  # type: ignore[misc]
    def syntaxError(
        self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any
    ) -> None:
        raise InvalidSchemaError(f"line {line}, column {column + 1}: {msg}")


def _listen(recognizer: Any) -> None:
    recognizer.removeErrorListeners()
    recognizer.addErrorListener(_RaiseOnError())


_PARSER = Parser(setup_lexer=_listen, setup_parser=_listen)
_INT = r"-?(?:0[xX][0-9a-fA-F]+|\d+)"
_RANGE = re.compile(rf"^\s*({_INT})\s*(?:to\s*(max|{_INT}))?\s*$")


def _ranges(texts: Iterable[str], maximum: int, where: str) -> list[tuple[int, int]]:
    out = []
    for text in texts:
        match = _RANGE.match(text)
        if match is None:
            raise InvalidSchemaError(f"{where}: cannot read the range {text!r}")
        start = int(match.group(1), 0)
        end_text = match.group(2)
        end = start if end_text is None else maximum if end_text == "max" else int(end_text, 0)
        if end < start:
            raise InvalidSchemaError(f"{where}: the range {text!r} ends before it starts")
        out.append((start, end))
    return out


_NAME_PART = re.compile(r"\([^)]*\)|[^.]+")


def _tree_literal(tree: dict[str, Any]) -> str:
    parts = []
    for key, value in tree.items():
        if isinstance(value, dict):
            parts.append(f"{key}: {_tree_literal(value)}")
        else:
            parts += [f"{key}: {one}" for one in value]
    return "{ " + " ".join(sorted(parts)) + " }" if parts else "{}"


def _options(options: Iterable[ast.Option]) -> list[Option]:
    """Options from the parser; dotted ones (``features.field_presence = EXPLICIT``,
    ``(ext).level = 2``) folded into one message value per option, as a descriptor
    holds them."""
    out: list[Option] = []
    folded: dict[str, dict[str, Any]] = {}
    for option in options:
        head, *tail = _NAME_PART.findall(option.name) or [option.name]
        value = _literal(option.value)
        if not tail:
            out.append(Option(head, value))
            continue
        if head not in folded:
            folded[head] = {}
            out.append(Option(head, ""))
        tree = folded[head]
        for part in tail[:-1]:
            found = tree.setdefault(part, {})
            tree = found if isinstance(found, dict) else {}
        leaves = tree.setdefault(tail[-1], [])
        if isinstance(leaves, list):
            leaves.append(value)
    for made in out:
        if made.name in folded and not made.value:
            made.value = _tree_literal(folded[made.name])
    return out


def _label(cardinality: ast.FieldCardinality | None) -> str | None:
    return None if cardinality is None else cardinality.value.lower()


class _TextReader:
    """A ``ProtoFile`` from the parser's tree, type names still as written."""

    def __init__(self, tree: ast.File) -> None:
        self.tree = tree
        self.syntax = "editions" if tree.edition else (tree.syntax or "proto2")

    def file(self) -> ProtoFile:
        tree = self.tree
        if self.syntax not in ("proto2", "proto3", "editions"):
            raise InvalidSchemaError(f'unknown syntax "{self.syntax}"; proto2 or proto3')
        out = ProtoFile(self.syntax, tree.edition or "")
        for element in tree.file_elements:
            if isinstance(element, ast.Package):
                if out.package:
                    raise InvalidSchemaError("a file has one package statement")
                out.package = element.name
            elif isinstance(element, ast.Import):
                target = (
                    out.public_imports
                    if element.public
                    else out.weak_imports
                    if element.weak
                    else out.imports
                )
                target.append(element.name)
            elif isinstance(element, ast.Option):
                out.options += _options([element])
            elif isinstance(element, ast.Message):
                out.messages.append(self.message(element, element.name))
            elif isinstance(element, ast.Enum):
                out.enums.append(self.enum(element, element.name))
            elif isinstance(element, ast.Extension):
                out.extends.append(self.extend(element, "extend " + element.typeName))
            elif isinstance(element, ast.Service):
                out.services.append(self.service(element))
        return out

    def field(self, node: ast.Field, where: str, oneof: str | None = None) -> Field:
        label = None if oneof else _label(node.cardinality)
        if label is None and oneof is None and self.syntax == "proto2":
            raise InvalidSchemaError(
                f"{where}: field {node.name} needs a label (optional, required or repeated) "
                "in proto2"
            )
        made = Field(node.name, node.number, label, node.type, oneof=oneof)
        for option in node.options:
            if option.name == "default":
                value = option.value
                made.default = _default(
                    node.type, _string(value) if isinstance(value, str) else value
                )
            elif option.name == "json_name":
                made.json_name = _string(str(option.value))
            else:
                made.options += _options([option])
        return made

    def group(self, node: ast.Group, where: str, oneof: str | None = None) -> tuple[Field, Message]:
        label = None if oneof else _label(node.cardinality)
        body = self.message(ast.Message(node.name, node.elements), f"{where}.{node.name}")
        return Field(node.name.lower(), node.number, label, node.name, GROUP, oneof=oneof), body

    def message(self, node: ast.Message, where: str) -> Message:
        out = Message(node.name)
        for element in node.elements:
            if isinstance(element, ast.Field):
                out.fields.append(self.field(element, f"message {where}"))
            elif isinstance(element, ast.MapField):
                out.fields.append(
                    Field(
                        element.name,
                        element.number,
                        None,
                        element.value_type,
                        key=element.key_type,
                        options=_options(element.options),
                    )
                )
            elif isinstance(element, ast.Group):
                made, body = self.group(element, where)
                out.fields.append(made)
                out.messages.append(body)
            elif isinstance(element, ast.OneOf):
                out.oneofs.append(element.name)
                out.oneof_options[element.name] = []
                for member in element.elements:
                    if isinstance(member, ast.Field):
                        out.fields.append(self.field(member, f"message {where}", element.name))
                    elif isinstance(member, ast.Group):
                        made, body = self.group(member, where, element.name)
                        out.fields.append(made)
                        out.messages.append(body)
                    elif isinstance(member, ast.Option):
                        out.oneof_options[element.name] += _options([member])
            elif isinstance(element, ast.Option):
                out.options += _options([element])
            elif isinstance(element, ast.Reserved):
                out.reserved += _ranges(element.ranges, MAX_FIELD, f"message {where}")
                out.reserved_names += element.names
            elif isinstance(element, ast.ExtensionRange):
                out.extension_ranges += _ranges(element.ranges, MAX_FIELD, f"message {where}")
            elif isinstance(element, ast.Message):
                out.messages.append(self.message(element, f"{where}.{element.name}"))
            elif isinstance(element, ast.Enum):
                out.enums.append(self.enum(element, f"{where}.{element.name}"))
            elif isinstance(element, ast.Extension):
                out.extends.append(self.extend(element, f"message {where}"))
        return out

    def enum(self, node: ast.Enum, where: str) -> Enum:
        out = Enum(node.name)
        for element in node.elements:
            if isinstance(element, ast.EnumValue):
                out.values.append(
                    EnumValue(element.name, element.number, _options(element.options))
                )
            elif isinstance(element, ast.EnumReserved):
                out.reserved += _ranges(element.ranges, MAX_ENUM, f"enum {where}")
                out.reserved_names += element.names
            elif isinstance(element, ast.Option):
                out.options += _options([element])
        return out

    def extend(self, node: ast.Extension, where: str) -> Extend:
        out = Extend(node.typeName)
        for element in node.elements:
            if isinstance(element, ast.Field):
                out.fields.append(self.field(element, where))
        return out

    def service(self, node: ast.Service) -> Service:
        out = Service(node.name)
        for element in node.elements:
            if isinstance(element, ast.Method):
                out.methods.append(
                    Method(
                        element.name,
                        element.input_type.type,
                        element.output_type.type,
                        element.input_type.stream,
                        element.output_type.stream,
                        _options(e for e in element.elements if isinstance(e, ast.Option)),
                    )
                )
            elif isinstance(element, ast.Option):
                out.options += _options([element])
        return out


_COMMENT = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|//[^\n]*|/\*.*?\*/""", re.DOTALL)


def _blank_comments(text: str) -> str:
    """``text`` with its comments blanked out (lines and columns kept): the parser's
    grammar takes comments between declarations only, protoc anywhere."""

    def blank(match: re.Match[str]) -> str:
        found = match.group()
        if found[0] in "\"'":
            return found
        return "".join(c if c == "\n" else " " for c in found)

    return _COMMENT.sub(blank, text)


def _read_text(text: str) -> ProtoFile:
    try:
        tree = _PARSER.parse(_blank_comments(text))
        return _TextReader(tree).file()
    except InvalidSchemaError as exc:
        raise InvalidSchemaError(f"invalid Protobuf schema: {exc}") from None
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise InvalidSchemaError(f"invalid Protobuf schema: {exc}") from None


# --- reading a FileDescriptorProto -------------------------------------------------


def _pb_literal(descriptor: Any, value: Any) -> str:
    if descriptor.enum_type is not None:
        found = descriptor.enum_type.values_by_number.get(value)
        return found.name if found is not None else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, bytes):
        return _quote(value.decode("latin-1"))
    if isinstance(value, str):
        return _quote(value)
    return str(value)


def _unknown(message: PbMessage) -> list[Any]:
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
    for unknown in _unknown(options):
        raw = (owner, unknown.field_number, unknown.wire_type, unknown.data)
        out.append(Option("", "", raw))
    return out


class _DescriptorReader:
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
                raw = _unescape(raw)
            made.default = _default(type_name, raw)
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


def _read_descriptor(text: str) -> ProtoFile | str:
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
        return _DescriptorReader(proto).file()
    except (ValueError, KeyError, StopIteration) as exc:
        raise InvalidSchemaError(f"invalid Protobuf descriptor: {exc}") from None


def read(text: str) -> ProtoFile:
    """A file from .proto text or a base64 FileDescriptorProto (as Confluent, either),
    names unresolved."""
    found = _read_descriptor(text)
    if isinstance(found, ProtoFile):
        return found
    try:
        return _read_text(text)
    except InvalidSchemaError as exc:
        if found == "not base64":
            raise
        raise InvalidSchemaError(
            f"{exc}; nor is it the base64 of a serialized FileDescriptorProto ({found})"
        ) from None


# --- resolving names and checking --------------------------------------------------


@dataclass
class _Scope:
    """What a file sees: its own types and extensions and those its imports export."""

    types: dict[str, Message | Enum] = field(default_factory=dict)
    extensions: dict[str, tuple[Extend, Field]] = field(default_factory=dict)

    def add(self, other: _Scope) -> None:
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


def _declared(proto: ProtoFile, where: str) -> _Scope:
    out = _Scope()
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


class _Resolver:
    """Resolves every type name of a file to a full one and checks what protoc checks
    that the model can see: numbers, names, labels, map keys, enum values."""

    def __init__(self, proto: ProtoFile, scope: _Scope, where: str) -> None:
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
        if made.key is not None and made.key not in _MAP_KEYS:
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
                return _number(struct.unpack(fmt[1], struct.pack(fmt[0], data))[0])
            if type_name.startswith("sfixed") and data >= 1 << (bits - 1):
                return str(data - (1 << bits))
            return str(data)
        if wire == 2 and isinstance(data, bytes):
            if type_name == "string":
                return _quote(data.decode("utf-8", "replace"))
            if type_name == "bytes":
                return _quote(data.decode("latin-1"))
            message = self.scope.types.get(type_name[1:])
            if isinstance(message, Message):
                by_number = {f.number: f for f in message.fields}
                parts = []
                for unknown in _unknown(empty_pb2.Empty.FromString(data)):
                    inner = by_number.get(unknown.field_number)
                    if inner is not None:
                        value = self.value(inner, unknown.wire_type, unknown.data)
                        parts.append(f"{inner.name}: {value}")
                return "{ " + " ".join(sorted(parts)) + " }" if parts else "{}"
        return _quote(repr(data))


class _Loader:
    """Parses a schema and, recursively, the files it imports: from ``references``
    (import path -> text) or, for the well-known ones, from the protobuf package."""

    def __init__(self, references: Mapping[str, str]) -> None:
        self.references = references
        self.files: dict[str, ProtoFile] = {}
        self.exported: dict[str, _Scope] = {}
        self.types: dict[str, TypeInfo] = {}
        self.loading: list[str] = []

    def load(self, path: str, importer: str) -> None:
        if path in self.files:
            return
        if path in self.loading:
            chain = " -> ".join([*self.loading[self.loading.index(path) :], path])
            raise InvalidSchemaError(f"invalid Protobuf schema: imports loop: {chain}")
        text = self.references.get(path)
        if text is None and path in WELL_KNOWN:
            proto = descriptor_pb2.FileDescriptorProto.FromString(
                importlib.import_module(WELL_KNOWN[path]).DESCRIPTOR.serialized_pb
            )
            self.build(path, _DescriptorReader(proto).file())
            return
        if text is None:
            raise InvalidSchemaError(
                f"invalid Protobuf schema{importer}: import {path!r} is neither a reference "
                "nor a well-known type; register that file and pass it as a reference named "
                f"{path!r}"
            )
        try:
            parsed = read(text)
        except InvalidSchemaError as exc:
            raise InvalidSchemaError(f"reference {path!r}: {exc}") from None
        self.build(path, parsed)

    def build(self, path: str, proto: ProtoFile) -> ProtoFile:
        where = f" (in {path!r})" if path else ""
        self.loading.append(path)
        try:
            for imported in dict.fromkeys(proto.all_imports()):
                self.load(imported, where)
        finally:
            self.loading.pop()
        own = _declared(proto, where)
        visible = _Scope()
        for imported in dict.fromkeys(proto.all_imports()):
            visible.add(self.exported[imported])
        for name in own.types.keys() & visible.types.keys():
            raise InvalidSchemaError(
                f"invalid Protobuf schema{where}: {name} is defined here and in an import"
            )
        visible.add(own)
        _Resolver(proto, visible, where).run()
        exported = _Scope(dict(own.types), dict(own.extensions))
        for imported in proto.public_imports:
            exported.add(self.exported[imported])
        self.exported[path] = exported
        self.files[path] = proto
        version = render(proto, normalize=False) if path else ""
        for name, element in own.types.items():
            self.types[name] = TypeInfo(element, name, proto.package, path, version)
        return proto


# --- canonical text ----------------------------------------------------------------


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line if line else line for line in lines]


def _option_list(options: list[Option], default: str | None = None, json: str | None = None) -> str:
    items = [(o.name, o.value) for o in options]
    if default is not None:
        items.append(("default", default))
    if json is not None:
        items.append(("json_name", _quote(json)))
    if not items:
        return ""
    return " [" + ", ".join(f"{n} = {v}" for n, v in sorted(items, key=lambda i: i[0])) + "]"


def _option_lines(options: list[Option]) -> list[str]:
    return [f"option {o.name} = {o.value};" for o in sorted(options, key=lambda o: o.name)]


def _range_text(ranges: list[tuple[int, int]], maximum: int, normalize: bool) -> str:
    ordered = sorted(set(ranges)) if normalize else ranges
    parts = []
    for start, end in ordered:
        if start == end:
            parts.append(str(start))
        else:
            parts.append(f"{start} to {'max' if end >= maximum else end}")
    return ", ".join(parts)


def _reserved(
    ranges: list[tuple[int, int]], names: list[str], maximum: int, normalize: bool
) -> list[str]:
    out = []
    if ranges:
        out.append(f"reserved {_range_text(ranges, maximum, normalize)};")
    if names:
        ordered = sorted(set(names)) if normalize else names
        out.append("reserved " + ", ".join(_quote(n) for n in ordered) + ";")
    return out


class _Writer:
    """The canonical text: messages before enums, plain fields before oneofs, options
    sorted by name; with ``normalize``, numbers and imports in order too."""

    def __init__(self, normalize: bool) -> None:
        self.normalize = normalize

    def type_text(self, made: Field) -> str:
        return f"map<{made.key}, {made.type}>" if made.key is not None else made.type

    def field(self, made: Field, owner: Message | None) -> list[str]:
        label = f"{made.label} " if made.label else ""
        if made.kind == GROUP and owner is not None:
            body_name = made.type.rpartition(".")[2]
            body = next(m for m in owner.messages if m.name == body_name)
            head = f"{label}group {body_name} = {made.number}{_option_list(made.options)} {{"
            return [head, *_indent(self.message_body(body)), "}"]
        json = made.json_name if made.json_name not in (None, json_name(made.name)) else None
        options = _option_list(made.options, made.default, json)
        return [f"{label}{self.type_text(made)} {made.name} = {made.number}{options};"]

    def fields(self, fields: list[Field]) -> list[Field]:
        return sorted(fields, key=lambda f: f.number) if self.normalize else fields

    def message(self, message: Message) -> list[str]:
        return [f"message {message.name} {{", *_indent(self.message_body(message)), "}"]

    def message_body(self, message: Message) -> list[str]:
        out = _reserved(message.reserved, message.reserved_names, MAX_FIELD, self.normalize)
        out += _option_lines(message.options)
        for made in self.fields([f for f in message.fields if f.oneof is None]):
            out += self.field(made, message)
        oneofs = {name: [f for f in message.fields if f.oneof == name] for name in message.oneofs}
        names = list(oneofs)
        if self.normalize:
            names.sort(key=lambda n: min((f.number for f in oneofs[n]), default=0))
        for name in names:
            body = _option_lines(message.oneof_options.get(name, []))
            for made in self.fields(oneofs[name]):
                body += self.field(made, message)
            out += [f"oneof {name} {{", *_indent(body), "}"]
        if message.extension_ranges:
            ranges = _range_text(message.extension_ranges, MAX_FIELD, self.normalize)
            out.append(f"extensions {ranges};")
        for extend in message.extends:
            out += self.extend(extend)
        groups = message.group_bodies()
        for nested in message.messages:
            if nested.name not in groups:
                out += self.message(nested)
        for enum in message.enums:
            out += self.enum(enum)
        return out

    def enum(self, enum: Enum) -> list[str]:
        body = _reserved(enum.reserved, enum.reserved_names, MAX_ENUM, self.normalize)
        body += _option_lines(enum.options)
        values = enum.values
        if self.normalize:
            values = sorted(values, key=lambda v: (v.number, v.name))
        body += [f"{v.name} = {v.number}{_option_list(v.options)};" for v in values]
        return [f"enum {enum.name} {{", *_indent(body), "}"]

    def extend(self, extend: Extend) -> list[str]:
        body = [line for made in self.fields(extend.fields) for line in self.field(made, None)]
        return [f"extend {extend.extendee} {{", *_indent(body), "}"]

    def service(self, service: Service) -> list[str]:
        body = _option_lines(service.options)
        for method in service.methods:
            request = ("stream " if method.client_streaming else "") + method.input
            response = ("stream " if method.server_streaming else "") + method.output
            head = f"rpc {method.name} ({request}) returns ({response})"
            if method.options:
                body += [f"{head} {{", *_indent(_option_lines(method.options)), "}"]
            else:
                body.append(head + ";")
        return [f"service {service.name} {{", *_indent(body), "}"]

    def file(self, proto: ProtoFile) -> str:
        if proto.syntax == "editions":
            out = [f"edition = {_quote(proto.edition)};"]
        else:
            out = [f"syntax = {_quote(proto.syntax)};"]
        if proto.package:
            out.append(f"package {proto.package};")
        imports: list[str] = []
        for kind, paths in (
            ("", proto.imports),
            ("public ", proto.public_imports),
            ("weak ", proto.weak_imports),
        ):
            ordered = sorted(set(paths)) if self.normalize else paths
            imports += [f"import {kind}{_quote(p)};" for p in ordered]
        for section in (imports, _option_lines(proto.options)):
            if section:
                out += ["", *section]
        blocks = [self.message(m) for m in proto.messages]
        blocks += [self.enum(e) for e in proto.enums]
        blocks += [self.extend(e) for e in proto.extends]
        blocks += [self.service(s) for s in proto.services]
        for block in blocks:
            out += ["", *block]
        return "\n".join(out) + "\n"


def render(proto: ProtoFile, normalize: bool) -> str:
    """The canonical .proto text of a resolved file."""
    return _Writer(normalize).file(proto)


# --- compatibility -----------------------------------------------------------------


def _type_text(made: Field) -> str:
    return f"map<{made.key}, {made.type}>" if made.key is not None else made.type


class _Compatibility:
    """Confluent's SchemaDiff over the model: the incompatible differences of
    ``original=writer`` and ``update=reader``, one line each."""

    def __init__(self, reader: ProtobufSchema, writer: ProtobufSchema) -> None:
        self.reader, self.writer = reader, writer
        self.active: set[int] = set()  # writer messages being compared (recursive types)

    def run(self) -> list[str]:
        out = []
        old, new = self.writer.file.package, self.reader.file.package
        if old != new:
            out.append(f"package changed from {old or '(none)'} to {new or '(none)'}")
        out += self.types(self.writer.file.messages, self.reader.file.messages, [])
        return list(dict.fromkeys(out))

    def types(self, writer: list[Message], reader: list[Message], path: list[str]) -> list[str]:
        out = []
        by_name = {m.name: m for m in reader}
        for message in writer:
            found = by_name.get(message.name)
            name = ".".join([*path, message.name])
            if found is None:
                out.append(
                    f"message {name}: the writer's schema has it, the reader's does not "
                    "(removed or renamed)"
                )
            else:
                out += self.message(message, found, [*path, message.name])
        return out  # enums: every change Confluent sees in them is compatible

    def message(self, writer: Message, reader: Message, path: list[str]) -> list[str]:
        out: list[str] = []
        if id(writer) not in self.active:
            self.active.add(id(writer))
            try:
                out += self.fields(writer, reader, path)
            finally:
                self.active.discard(id(writer))
        w_groups, r_groups = writer.group_bodies(), reader.group_bodies()
        out += self.types(
            [m for m in writer.messages if m.name not in w_groups],
            [m for m in reader.messages if m.name not in r_groups],
            path,
        )
        return out

    def fields(self, writer: Message, reader: Message, path: list[str]) -> list[str]:
        where = ".".join(path)
        out = []
        old = {f.number: f for f in writer.fields}
        new = {f.number: f for f in reader.fields}
        # a oneof gone by name, none of whose members live on anywhere, is deleted
        # whole, which is compatible; members of one that lives on are removals
        deleted = {
            name
            for name in writer.oneofs
            if name not in reader.oneofs
            and not any(f.number in new for f in writer.fields if f.oneof == name)
        }
        # fields that could be set together, now in one oneof
        for name in reader.oneofs:
            origins: set[str] = set()
            moved_in = []
            for made in reader.fields:
                if made.oneof != name or made.number not in old:
                    continue
                previous = old[made.number]
                if previous.oneof is not None:
                    origins.add("oneof " + previous.oneof)
                else:
                    origins.add(f"field {made.number}")
                    moved_in.append(made.number)
            if len(origins) > 1:
                kept = sorted(
                    f.number for f in reader.fields if f.oneof == name and f.number in old
                )
                numbers = ", ".join(str(n) for n in kept)
                why = "data that sets more than one keeps only one"
                if len(moved_in) > 1:  # Confluent's MULTIPLE_FIELDS_MOVED_TO_ONEOF
                    out.append(
                        f"{where} oneof {name}: fields {numbers}, outside any oneof in the "
                        f"writer's schema, are moved into one oneof ({why})"
                    )
                else:  # FIELD_MOVED_TO_EXISTING_ONEOF
                    out.append(
                        f"{where} oneof {name}: fields {numbers} were not members of one "
                        f"oneof in the writer's schema ({why})"
                    )
        for number in sorted(old.keys() | new.keys()):
            before, after = old.get(number), new.get(number)
            if after is None:
                assert before is not None
                here = f"{where}.{before.name} (field {number})"
                if before.oneof is not None:
                    if before.oneof not in deleted:
                        out.append(
                            f"{here}: a member of oneof {before.oneof} in the writer's "
                            "schema, missing from the reader's"
                        )
                elif before.label == "required":
                    out.append(
                        f"{here}: required in the writer's schema, missing from the reader's"
                    )
            elif before is None:
                if after.oneof is None and after.label == "required":
                    out.append(
                        f"{where}.{after.name} (field {number}): required by the "
                        "reader's schema, missing from the writer's"
                    )
            else:
                here = f"{where}.{after.name} (field {number})"
                out += self.field(here, before, after)
        return out

    def field(self, here: str, before: Field, after: Field) -> list[str]:
        shape = {SCALAR: "scalar", ENUM: "scalar", MESSAGE: "message", GROUP: "message"}
        old_shape = "map" if before.key is not None else shape[before.kind]
        new_shape = "map" if after.key is not None else shape[after.kind]
        if old_shape != new_shape:
            return [
                f"{here}: type changed from {_type_text(before)} to {_type_text(after)} "
                f"({old_shape} to {new_shape})"
            ]
        if old_shape == "map":
            assert before.key is not None and after.key is not None
            out = []
            if _WIRE_GROUP[before.key] != _WIRE_GROUP[after.key]:
                out.append(f"{here}: map key type changed from {before.key} to {after.key}")
            old_value = replace(before, key=None, label=None)
            new_value = replace(after, key=None, label=None)
            for line in self.field(here, old_value, new_value):
                out.append(line.replace(": type changed", ": map value type changed", 1))
            return out
        if old_shape == "scalar":
            old_group = "varint" if before.kind == ENUM else _WIRE_GROUP[before.type]
            new_group = "varint" if after.kind == ENUM else _WIRE_GROUP[after.type]
            if old_group != new_group:
                return [f"{here}: type changed from {before.type} to {after.type}"]
            relabelled = before.label and after.label and before.label != after.label
            if relabelled and old_group != "string":
                return [
                    f"{here}: label changed from {before.label} to {after.label} "
                    "(a numeric field's label must stay)"
                ]
            return []
        return self.message_type(here, before.type, after.type)

    def message_type(self, here: str, old: str, new: str) -> list[str]:
        before, after = self.writer.types[old[1:]], self.reader.types[new[1:]]
        if before.local_name != after.local_name:
            return [f"{here}: message type changed from {old} to {new}"]
        if (before.source, before.version) == (after.source, after.version):
            return []  # one file's type: compared where it is declared, or unchanged
        assert isinstance(before.element, Message) and isinstance(after.element, Message)
        inside = self.message(before.element, after.element, before.local_name.split("."))
        if not inside:
            return []
        return [*inside, f"{here}: its message type {new} changed incompatibly"]


# --- the kind ----------------------------------------------------------------------


class ProtobufKind:
    name = PROTOBUF

    def parse(self, text: str, references: Mapping[str, str]) -> ProtobufSchema:
        if not isinstance(text, str) or not text.strip():
            raise InvalidSchemaError("invalid Protobuf schema: it is empty")
        loader = _Loader(references)
        root = loader.build("", read(text))
        dependencies = {path: f for path, f in loader.files.items() if path}
        return ProtobufSchema(root, dependencies, loader.types)

    def canonical(self, parsed: ProtobufSchema, normalize: bool) -> str:
        return render(parsed.file, normalize)

    def problems(self, reader: ProtobufSchema, writer: ProtobufSchema) -> list[str]:
        """What keeps ``reader`` from reading ``writer``'s data: Confluent's
        ``reader.isBackwardCompatible(writer)``, i.e. its diff with ``original=writer``
        and ``update=reader`` (see the module's docstring)."""
        return _Compatibility(reader, writer).run()


KIND = ProtobufKind()
