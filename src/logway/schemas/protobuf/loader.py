"""A schema read in either form, and the files it imports loaded from its references
or the well-known ones, each resolved and checked, every type named in full.
"""

from __future__ import annotations

from collections.abc import Mapping

from logway.errors import InvalidSchemaError
from logway.schemas.protobuf.canonical import render
from logway.schemas.protobuf.descriptor import read_descriptor
from logway.schemas.protobuf.model import ProtoFile, TypeInfo
from logway.schemas.protobuf.names import Resolver, Scope, declared
from logway.schemas.protobuf.text import read_text
from logway.schemas.protobuf.wellknown import WELL_KNOWN, read_well_known


def read(text: str) -> ProtoFile:
    """A file from .proto text or a base64 FileDescriptorProto (as Confluent, either),
    names unresolved."""
    found = read_descriptor(text)
    if isinstance(found, ProtoFile):
        return found
    try:
        return read_text(text)
    except InvalidSchemaError as exc:
        if found == "not base64":
            raise
        raise InvalidSchemaError(
            f"{exc}; nor is it the base64 of a serialized FileDescriptorProto ({found})"
        ) from None


class Loader:
    """Parses a schema and, recursively, the files it imports: from ``references``
    (import path -> text) or, for the well-known ones, from the protobuf package."""

    def __init__(self, references: Mapping[str, str]) -> None:
        self.references = references
        self.files: dict[str, ProtoFile] = {}
        self.exported: dict[str, Scope] = {}
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
            self.build(path, read_well_known(path))
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
        own = declared(proto, where)
        visible = Scope()
        for imported in dict.fromkeys(proto.all_imports()):
            visible.add(self.exported[imported])
        for name in own.types.keys() & visible.types.keys():
            raise InvalidSchemaError(
                f"invalid Protobuf schema{where}: {name} is defined here and in an import"
            )
        visible.add(own)
        Resolver(proto, visible, where).run()
        exported = Scope(dict(own.types), dict(own.extensions))
        for imported in proto.public_imports:
            exported.add(self.exported[imported])
        self.exported[path] = exported
        self.files[path] = proto
        version = render(proto, normalize=False) if path else ""
        for name, element in own.types.items():
            self.types[name] = TypeInfo(element, name, proto.package, path, version)
        return proto
