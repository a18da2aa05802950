"""The settings of a delivery stream, checked when it is declared. Names are
Pythonic; meanings and limits are Kinesis Data Firehose's (``BufferingHints``
``SizeInMBs`` 1 to 128 and ``IntervalInSeconds`` 0 to 900, ``Prefix``,
``ErrorOutputPrefix``, ``ProcessingConfiguration``, ``S3BackupMode``,
``DataFormatConversionConfiguration``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from logway.broker import check_starting_position
from logway.delivery.prefix import (
    DEFAULT_ERROR_PREFIX,
    DEFAULT_PREFIX,
    DEFAULT_SOURCE_PREFIX,
    Prefix,
    compile_prefix,
)
from logway.errors import InvalidArgumentError
from logway.units import parse_seconds, parse_size

MIN_BUFFER_BYTES, MAX_BUFFER_BYTES = 1024 * 1024, 128 * 1024 * 1024
MAX_BUFFER_INTERVAL_S = 900.0
COMPRESSIONS = {
    "parquet": ("snappy", "zstd", "gzip", "none"),
    "jsonl": ("none", "gzip", "zstd"),
}
DEFAULT_COMPRESSION = {"parquet": "snappy", "jsonl": "none"}

_DEFAULT_PREFIX = compile_prefix(DEFAULT_PREFIX, "prefix")
_DEFAULT_ERROR_PREFIX = compile_prefix(DEFAULT_ERROR_PREFIX, "error_prefix", errors=True)

Start = Literal["latest", "earliest"] | dt.datetime | int


REGISTRY = "registry"  # schema=: values in the schema registry's wire format


@dataclass(frozen=True)
class DeliverySettings:
    """A delivery's settings (see the module's docstring for their limits).

    ``schema`` says how Parquet columns are typed. ``"registry"``: values are in the
    schema registry's wire format, each decoded with the schema its id names, and
    Protobuf and Avro schemas give the columns their types (``logway.delivery.typed``;
    a value that does not decode goes under ``error_prefix`` as
    ``format-conversion-failed``). That is also what a Parquet delivery of a topic
    with a ``value_schema`` does when ``schema`` is not given, since its values are
    never plain JSON. A generated Protobuf message class: values are that message,
    unframed. Otherwise values are JSON objects, typed from their data."""

    to: str  # the destination: a directory, file:PATH or s3://bucket/prefix
    format: Literal["parquet", "jsonl"] = "parquet"
    compression: str = "snappy"
    buffer_size: int = 64 * 1024 * 1024  # bytes of record values per partition
    buffer_interval: float = 60.0  # seconds
    prefix: Prefix = _DEFAULT_PREFIX
    error_prefix: Prefix = _DEFAULT_ERROR_PREFIX
    transform: Callable[[list[Any]], Any] | None = None
    backup_source: Prefix | None = None  # where the untransformed records go, if anywhere
    schema: Any = None  # "registry", a Protobuf message class, or None (see above)
    starting_position: Start = "earliest"

    @classmethod
    def build(cls, to: object, **options: Any) -> DeliverySettings:
        """Check every option and convert sizes and durations; ``InvalidArgumentError``
        names the option, the value and the allowed range."""
        known = set(cls.__dataclass_fields__) - {"to"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InvalidArgumentError(
                f"unknown delivery settings {unknown}; known: {', '.join(sorted(known))}"
            )
        if not isinstance(to, str) or not to:
            raise InvalidArgumentError(
                "a delivery goes to a directory, file:PATH or s3://bucket/prefix (to=...)"
            )
        o = dict(options)
        fmt = o.get("format", "parquet")
        if fmt not in COMPRESSIONS:
            raise InvalidArgumentError(f"format must be 'parquet' or 'jsonl', not {fmt!r}")
        o["compression"] = o.get("compression") or DEFAULT_COMPRESSION[fmt]
        if o["compression"] not in COMPRESSIONS[fmt]:
            raise InvalidArgumentError(
                f"compression of {fmt} must be one of {', '.join(COMPRESSIONS[fmt])}, "
                f"not {o['compression']!r}"
            )
        size = o.get("buffer_size", cls.buffer_size)
        o["buffer_size"] = parse_size(size, "buffer_size")
        if not MIN_BUFFER_BYTES <= o["buffer_size"] <= MAX_BUFFER_BYTES:
            raise InvalidArgumentError(f"buffer_size must be 1 MB to 128 MB, not {size!r}")
        o["buffer_interval"] = parse_seconds(
            o.get("buffer_interval", cls.buffer_interval),
            "buffer_interval",
            0,
            MAX_BUFFER_INTERVAL_S,
        )
        o["prefix"] = compile_prefix(o.get("prefix", DEFAULT_PREFIX), "prefix")
        o["error_prefix"] = compile_prefix(
            o.get("error_prefix", DEFAULT_ERROR_PREFIX), "error_prefix", errors=True
        )
        backup = o.get("backup_source")
        if backup is True:
            o["backup_source"] = compile_prefix(DEFAULT_SOURCE_PREFIX, "backup_source")
        elif backup not in (None, False):
            o["backup_source"] = compile_prefix(backup, "backup_source")
        else:
            o["backup_source"] = None
        transform = o.get("transform")
        if transform is not None and not callable(transform):
            raise InvalidArgumentError(
                f"transform is a function of a list of records, not {transform!r}"
            )
        schema = o.get("schema")
        if schema is not None:
            if fmt != "parquet" and schema != REGISTRY:
                raise InvalidArgumentError(
                    "schema= types Parquet columns; JSON lines hold the values as they are "
                    f"(or decoded from the registry's wire format, with schema={REGISTRY!r})"
                )
            if schema != REGISTRY and not (
                hasattr(schema, "DESCRIPTOR") and hasattr(schema, "FromString")
            ):
                raise InvalidArgumentError(
                    f"schema is a generated Protobuf message class, or {REGISTRY!r} for "
                    f"values in the schema registry's wire format, not {schema!r}"
                )
        check_starting_position(o.get("starting_position", "earliest"))
        return cls(to=to, **o)


@dataclass
class DeliverySpec:
    """A delivery stream of an app: the topic it reads and where it writes."""

    name: str
    source: str
    settings: DeliverySettings
