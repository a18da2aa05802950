"""The Protobuf kind of the schema registry: parse, canonical text, compatibility, and
the ``serialized`` format: the base64 of the schema's ``FileDescriptorProto`` whichever
form it was registered in (written by ``serialized``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from logway.errors import InvalidSchemaError
from logway.schemas.kinds import PROTOBUF
from logway.schemas.protobuf import compatibility
from logway.schemas.protobuf.canonical import render
from logway.schemas.protobuf.loader import Loader, read
from logway.schemas.protobuf.model import ProtobufSchema
from logway.schemas.protobuf.serialized import descriptor

SERIALIZED = "serialized"  # Confluent's ProtobufSchema.Format.SERIALIZED


class ProtobufKind:
    name = PROTOBUF

    def parse(self, text: str, references: Mapping[str, str]) -> ProtobufSchema:
        if not isinstance(text, str) or not text.strip():
            raise InvalidSchemaError("invalid Protobuf schema: it is empty")
        loader = Loader(references)
        root = loader.build("", read(text))
        dependencies = {path: f for path, f in loader.files.items() if path}
        return ProtobufSchema(root, dependencies, loader.types)

    def canonical(self, parsed: ProtobufSchema, normalize: bool) -> str:
        return render(parsed.file, normalize)

    def problems(self, reader: ProtobufSchema, writer: ProtobufSchema) -> list[str]:
        """What keeps ``reader`` from reading ``writer``'s data: Confluent's
        ``reader.isBackwardCompatible(writer)``, i.e. its diff with ``original=writer``
        and ``update=reader`` (see ``compatibility``)."""
        return compatibility.problems(reader, writer)

    def formatted(self, parsed: ProtobufSchema, fmt: str) -> str | None:
        """The schema in Confluent's format ``fmt``: ``serialized`` is the base64 of its
        ``FileDescriptorProto`` (named "default", as Confluent names it); any other
        format, None (the text as registered)."""
        if fmt.strip().lower() != SERIALIZED:
            return None
        return base64.b64encode(descriptor(parsed.file).SerializeToString()).decode("ascii")


KIND = ProtobufKind()
