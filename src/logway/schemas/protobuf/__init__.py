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

A module per concept: ``model`` (what both forms are read into), ``literals`` (values
as .proto text), ``text`` (reading .proto text), ``descriptor`` (reading a
``FileDescriptorProto``), ``wellknown`` (the built-in ``google/protobuf`` files),
``names`` (resolving type names, protoc's checks), ``loader`` (a schema and its
imports), ``canonical`` (the canonical text), ``compatibility`` (Confluent's diff
rules), ``serialized`` (writing a ``FileDescriptorProto``, the ``serialized`` format)
and ``kind`` (``KIND``, what the registry calls).
"""

from logway.schemas.protobuf.kind import KIND, ProtobufKind
from logway.schemas.protobuf.model import Message, ProtobufSchema
from logway.schemas.protobuf.wellknown import WELL_KNOWN

__all__ = ["KIND", "WELL_KNOWN", "Message", "ProtobufKind", "ProtobufSchema"]
