"""The well-known ``google/protobuf/*.proto`` files, which an import names without a
reference (as in Confluent), read from the descriptors the protobuf package ships.
"""

from __future__ import annotations

import importlib

from google.protobuf import descriptor_pb2

from logway.schemas.protobuf.descriptor import DescriptorReader
from logway.schemas.protobuf.model import ProtoFile

# Imports that resolve without a reference (Confluent's ProtobufSchema.KNOWN_DEPENDENCIES
# holds these and more), read from the protobuf package's own descriptors.
WELL_KNOWN = {
    f"google/protobuf/{name}.proto": f"google.protobuf.{name}_pb2"
    for name in (
        *("any", "api", "descriptor", "duration", "empty", "field_mask", "source_context"),
        *("struct", "timestamp", "type", "wrappers"),
    )
}


def read_well_known(path: str) -> ProtoFile:
    """The well-known file at import path ``path`` (a key of ``WELL_KNOWN``)."""
    proto = descriptor_pb2.FileDescriptorProto.FromString(
        importlib.import_module(WELL_KNOWN[path]).DESCRIPTOR.serialized_pb
    )
    return DescriptorReader(proto).file()
