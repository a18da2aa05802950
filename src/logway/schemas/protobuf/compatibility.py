"""Whether one Protobuf schema reads another's data, by Confluent's rules.

``problems(reader, writer)`` applies Confluent's Protobuf compatibility rules
(``io.confluent.kafka.schemaregistry.protobuf.diff``). Confluent's
``update.isBackwardCompatible(original)`` diffs ``original`` (the schema the data was
written with) against ``update`` (the schema reading it): BACKWARD checks
``new.isBackwardCompatible(old)`` and FORWARD ``old.isBackwardCompatible(new)``. So
``problems(reader, writer)`` is that diff with ``original=writer`` and
``update=reader``, keeping the differences Confluent does not list as compatible

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

from dataclasses import replace

from logway.schemas.protobuf.model import (
    ENUM,
    GROUP,
    MESSAGE,
    SCALAR,
    WIRE_GROUP,
    Field,
    Message,
    ProtobufSchema,
)


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
            if WIRE_GROUP[before.key] != WIRE_GROUP[after.key]:
                out.append(f"{here}: map key type changed from {before.key} to {after.key}")
            old_value = replace(before, key=None, label=None)
            new_value = replace(after, key=None, label=None)
            for line in self.field(here, old_value, new_value):
                out.append(line.replace(": type changed", ": map value type changed", 1))
            return out
        if old_shape == "scalar":
            old_group = "varint" if before.kind == ENUM else WIRE_GROUP[before.type]
            new_group = "varint" if after.kind == ENUM else WIRE_GROUP[after.type]
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


def problems(reader: ProtobufSchema, writer: ProtobufSchema) -> list[str]:
    """What keeps ``reader`` from reading ``writer``'s data, one line each."""
    return _Compatibility(reader, writer).run()
