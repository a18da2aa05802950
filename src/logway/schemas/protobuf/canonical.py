"""The canonical text of a Protobuf schema.

``canonical`` writes the model back as ``.proto`` text, free of layout and comments:
type names in full (``.pkg.Msg``), maps as ``map<K, V>``, options sorted, a
``json_name`` only when it is not the default one, so a file and its descriptor have one
canonical text. With ``normalize``, also what Confluent's normalization orders: fields
and oneof members by number, oneofs by their first number, enum values by number,
reserved ranges and imports sorted. Messages and enums keep their order, as Confluent
keeps it: the wire format's message indexes name a message by its position.
"""

from __future__ import annotations

from logway.schemas.protobuf.literals import quote
from logway.schemas.protobuf.model import (
    GROUP,
    MAX_ENUM,
    MAX_FIELD,
    Enum,
    Extend,
    Field,
    Message,
    Option,
    ProtoFile,
    Service,
)


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


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line if line else line for line in lines]


def _option_list(options: list[Option], default: str | None = None, json: str | None = None) -> str:
    items = [(o.name, o.value) for o in options]
    if default is not None:
        items.append(("default", default))
    if json is not None:
        items.append(("json_name", quote(json)))
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
        out.append("reserved " + ", ".join(quote(n) for n in ordered) + ";")
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
            out = [f"edition = {quote(proto.edition)};"]
        else:
            out = [f"syntax = {quote(proto.syntax)};"]
        if proto.package:
            out.append(f"package {proto.package};")
        imports: list[str] = []
        for kind, paths in (
            ("", proto.imports),
            ("public ", proto.public_imports),
            ("weak ", proto.weak_imports),
        ):
            ordered = sorted(set(paths)) if self.normalize else paths
            imports += [f"import {kind}{quote(p)};" for p in ordered]
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
