"""Reading a ``.proto`` file's text (proto2, proto3, editions) into the model, with
``proto-schema-parser``: syntax errors raised with line and column, comments blanked
where its grammar does not take them, dotted options folded as a descriptor holds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from antlr4.error.ErrorListener import ErrorListener  # type: ignore[import-untyped]
from proto_schema_parser import ast
from proto_schema_parser.parser import Parser

from logway.errors import InvalidSchemaError
from logway.schemas.protobuf.literals import default_text, literal, string_value
from logway.schemas.protobuf.model import (
    GROUP,
    MAX_ENUM,
    MAX_FIELD,
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
        value = literal(option.value)
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
                made.default = default_text(
                    node.type, string_value(value) if isinstance(value, str) else value
                )
            elif option.name == "json_name":
                made.json_name = string_value(str(option.value))
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


def read_text(text: str) -> ProtoFile:
    try:
        tree = _PARSER.parse(_blank_comments(text))
        return _TextReader(tree).file()
    except InvalidSchemaError as exc:
        raise InvalidSchemaError(f"invalid Protobuf schema: {exc}") from None
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise InvalidSchemaError(f"invalid Protobuf schema: {exc}") from None
