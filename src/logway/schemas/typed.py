"""``Schemas``: the registry a broker offers as ``broker.schemas``, with what records
need of it: enforcement of a topic's ``value_schema`` / ``key_schema`` on produce,
serialising typed values in the registry's wire format, and decoding records.

Enforcement accepts a key or value when it is in the wire format (``wire``), its
schema id is one of the subject's versions (soft-deleted ones too: data written
with them stays readable) and its data decodes with that schema (``codecs``). The
ids of each subject and a codec per id are kept in memory, dropped whenever the
registry changes. A batch whose checked parts are all Protobuf records of one header
(magic byte, one of the subject's ids, message indexes ``0``) is parsed in one go
(``codecs.BatchParser``); a record of that kind alone is one dict lookup on its first
six bytes and its message class's parse. Anything else, and any batch or record that
fails so, goes through the full check, record by record, which says why the first
one refused is.

Serialising follows Confluent's serializers: the subject is the topic's setting or,
by Confluent's TopicNameStrategy, ``TOPIC-value`` / ``TOPIC-key``; the value's own
schema is looked up in the subject and registered there when it is not yet (the
subject's compatibility level decides), unless ``auto_register`` is off.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError
from google.protobuf.message import Message as PbMessage

from logway.broker import Broker
from logway.errors import InvalidRecordError, SchemaNotFoundError
from logway.schemas.client import RegistryClient
from logway.schemas.codecs import (
    Codec,
    ProtobufCodec,
    codec_for,
    file_descriptor_text,
    protobuf_indexes,
)
from logway.schemas.kinds import AVRO, JSON, PROTOBUF
from logway.schemas.model import Reference, Schema
from logway.schemas.registry import SchemaRegistry
from logway.schemas.wire import FIRST_MESSAGE, HEADER, MAGIC, frame, schema_id_of

KEY, VALUE = "key", "value"
PROTOBUF_HEAD = HEADER + 1  # magic byte, schema id, message indexes ``0``
_UNKNOWN: Any = object()

# A subject's parsers by a record's first PROTOBUF_HEAD bytes: the parse of the
# message that header names (``FromString``), or None when its records take the
# full check. Only heads of the subject's own ids are kept, so it stays small.
Parsers = dict[bytes, Any]


class TypedRecords:
    """Enforcement and typed values over a registry (the methods it names below):
    one piece for ``Schemas`` (the registry in a broker's log) and ``RemoteSchemas``
    (a registry at a URL)."""

    auto_register: bool
    generation: int
    _codecs: dict[int, Codec]
    _ids: dict[str, frozenset[int]]
    _parsers: dict[str, Parsers]
    _message_ids: dict[tuple[str, str, bytes], int]
    _seen: int

    if TYPE_CHECKING:  # what the registry this is mixed with provides

        def refresh(self) -> None: ...
        def by_id(self, schema_id: int) -> Schema: ...
        def parsed(self, schema_id: int) -> Any: ...
        def get(
            self, subject: str, version: int | str = "latest", deleted: bool = False
        ) -> Schema: ...
        def lookup(
            self,
            subject: str,
            schema: str,
            schema_type: str | None = None,
            references: Iterable[Any] = (),
            normalize: bool = False,
            deleted: bool = False,
        ) -> Schema: ...
        def register(
            self,
            subject: str,
            schema: str,
            schema_type: str | None = None,
            references: Iterable[Any] = (),
            normalize: bool = False,
        ) -> Schema: ...

    def _typed_state(self, auto_register: bool) -> None:
        self.auto_register = auto_register
        self._codecs, self._ids, self._parsers, self._message_ids = {}, {}, {}, {}
        self._seen = -1

    def _schema_ids(self, subject: str, refresh: bool) -> frozenset[int]:
        """The ids of every version of ``subject`` (soft-deleted ones too), read
        again from the registry with ``refresh``."""
        raise NotImplementedError

    # --- what is kept ---------------------------------------------------------------

    def _fresh(self) -> None:
        if self._seen != self.generation:
            self._codecs, self._ids, self._parsers, self._message_ids = {}, {}, {}, {}
            self._seen = self.generation

    def _kept(self, table: str, key: Any, make: Callable[[], Any], again: bool = False) -> Any:
        """``self.<table>[key]``, made by ``make()`` the first time (or ``again``);
        the tables are emptied whenever the registry changes."""
        self._fresh()
        found = None if again else getattr(self, table).get(key)
        if found is None:
            found = make()
            self._fresh()
            getattr(self, table)[key] = found
        return found

    def codec(self, schema_id: int) -> Codec:
        """The codec of schema ``schema_id``, made the first time."""

        def make() -> Codec:
            schema = self.by_id(schema_id)
            return codec_for(schema.schema_type, self.parsed(schema_id))

        found: Codec = self._kept("_codecs", schema_id, make)
        return found

    def subject_ids(self, subject: str, refresh: bool = False) -> frozenset[int]:
        """The ids of every version of ``subject`` (soft-deleted ones too)."""
        found: frozenset[int] = self._kept(
            "_ids", subject, lambda: self._schema_ids(subject, refresh), again=refresh
        )
        return found

    # --- enforcement ----------------------------------------------------------------

    def check_produce(
        self,
        topic: str,
        key_subject: str | None,
        value_subject: str | None,
        items: Sequence[Any],
    ) -> None:
        """Refuse the batch (``InvalidRecordError``) at its first record whose key or
        value does not hold to the topic's subjects; see the module's docstring."""
        values, keys = self._part(value_subject), self._part(key_subject)
        if len(items) > 1 and self._batch_accepts(values, keys, items, 0, 1):
            return
        for i, item in enumerate(items):
            if isinstance(item, tuple):
                value = item[0] if item else None
                key = item[1] if len(item) > 1 else None
            else:
                value, key = item, None
            if values is not None:
                self._check_one(values, topic, i, VALUE, value)
            if keys is not None:
                self._check_one(keys, topic, i, KEY, key)

    def check_pairs(
        self,
        topic: str,
        key_subject: str | None,
        value_subject: str | None,
        pairs: Iterable[tuple[bytes | None, bytes | None]],
    ) -> None:
        """``check_produce`` for (key, value) pairs, e.g. of record batches as sent."""
        values, keys = self._part(value_subject), self._part(key_subject)
        pairs = pairs if isinstance(pairs, list | tuple) else list(pairs)
        if len(pairs) > 1 and self._batch_accepts(values, keys, pairs, 1, 0):
            return
        for i, (key, value) in enumerate(pairs):
            if values is not None:
                self._check_one(values, topic, i, VALUE, value)
            if keys is not None:
                self._check_one(keys, topic, i, KEY, key)

    def _part(self, subject: str | None) -> tuple[str, Parsers] | None:
        """A checked part's subject and its parsers (None: the part is not checked)."""
        return None if subject is None else (subject, self._parsers_of(subject))

    def _check_one(
        self, part_of: tuple[str, Parsers], topic: str, i: int, part: str, data: Any
    ) -> None:
        """``_check`` with the quick acceptance of the common Protobuf record first."""
        subject, parsers = part_of
        if type(data) is bytes:
            parse = parsers.get(data[:PROTOBUF_HEAD], _UNKNOWN)
            if parse is _UNKNOWN:
                parse = self._learn(parsers, subject, data)
            if parse is not None:
                try:
                    parse(data[PROTOBUF_HEAD:])
                    return
                except DecodeError:
                    pass
        self._check(topic, i, part, data, subject)

    def _batch_accepts(
        self,
        values: tuple[str, Parsers] | None,
        keys: tuple[str, Parsers] | None,
        items: Sequence[Any],
        value_at: int,
        key_at: int,
    ) -> bool:
        """Whether the whole batch is accepted at once: each checked part of every
        record a Protobuf record of the same header, the batch parsed in one go
        (``BatchParser``). False leaves it to the record-by-record check, which
        finds the first record refused, if any, and says why."""
        for part_of, at in ((values, value_at), (keys, key_at)):
            if part_of is None:
                continue
            if type(items[0]) is bytes:  # values alone
                if part_of is keys:
                    return False
                found: Sequence[Any] = items
            else:
                try:
                    found = list(map(itemgetter(at), items))
                except (TypeError, IndexError):
                    return False
            if not self._all_parse(*part_of, found):
                return False
        return True

    def _all_parse(self, subject: str, parsers: Parsers, data: Sequence[Any]) -> bool:
        first = data[0]
        if type(first) is not bytes:
            return False
        head = first[:PROTOBUF_HEAD]
        parse = parsers.get(head, _UNKNOWN)
        if parse is _UNKNOWN:
            parse = self._learn(parsers, subject, first)
        if parse is None:
            return False
        codec = self.codec(int.from_bytes(head[1:HEADER], "big"))
        batch = codec.batch_parser() if isinstance(codec, ProtobufCodec) else None
        return batch is not None and batch.accepts(head, data)

    def _parsers_of(self, subject: str) -> Parsers:
        found: Parsers = self._kept("_parsers", subject, dict)
        return found

    def _learn(self, parsers: Parsers, subject: str, data: bytes) -> Any:
        """The parse for records starting as ``data`` does (None: the full check),
        kept in ``parsers`` when the head names one of the subject's ids."""
        head = data[:PROTOBUF_HEAD]
        if len(head) < PROTOBUF_HEAD or head[0] != MAGIC:
            return None
        schema_id = int.from_bytes(head[1:HEADER], "big")
        if schema_id not in self.subject_ids(subject):
            return None
        parse = None
        try:
            codec = self.codec(schema_id)
            if isinstance(codec, ProtobufCodec) and head[HEADER] == 0:
                parse = codec.message_class(FIRST_MESSAGE).FromString
        except (InvalidRecordError, SchemaNotFoundError):
            return None  # the full check says why
        parsers[head] = parse
        return parse

    def _check(self, topic: str, i: int, part: str, data: Any, subject: str) -> None:
        try:
            if isinstance(data, str):
                data = data.encode()
            schema_id = schema_id_of(data)
            if schema_id not in self.subject_ids(subject) and schema_id not in self.subject_ids(
                subject, refresh=True
            ):
                raise InvalidRecordError(
                    f"has schema id {schema_id}, which is not a version of subject {subject!r}"
                    + ("" if self._has(schema_id) else " (no schema has that id)")
                )
            self.codec(schema_id).decode(memoryview(data)[HEADER:])
        except InvalidRecordError as exc:
            raise InvalidRecordError(
                f"record {i} of the batch for topic {topic!r} is refused: its {part} {exc} "
                f"(the topic's {part}_schema is {subject!r}); nothing of the batch was stored"
            ) from None

    def _has(self, schema_id: int) -> bool:
        try:
            self.by_id(schema_id)
        except SchemaNotFoundError:
            return False
        return True

    # --- typed values ---------------------------------------------------------------

    def decode(self, data: bytes | memoryview | None) -> Any:
        """The value in ``data`` (the registry's wire format), decoded with the schema
        its id names: a Protobuf message, Avro's Python data, or JSON's."""
        schema_id = schema_id_of(data)
        assert data is not None
        try:
            codec = self.codec(schema_id)
        except SchemaNotFoundError:
            raise InvalidRecordError(
                f"the data has schema id {schema_id}, which names no schema in this registry"
            ) from None
        return codec.decode(memoryview(data)[HEADER:])

    def encode(self, subject: str, value: Any, schema: Any = None) -> bytes:
        """``value`` in the wire format under ``subject``: a generated Protobuf message
        with its own file's schema; anything else with ``schema`` (a schema's text, or
        a dict for an Avro or JSON schema) or, when none is given, with the subject's
        latest version."""
        if isinstance(value, PbMessage):
            schema_id = self._protobuf_id(subject, value)
            codec = self.codec(schema_id)
            assert isinstance(codec, ProtobufCodec)
            return frame(schema_id, value.SerializeToString(), protobuf_indexes(value))
        if schema is None:
            found = self.get(subject)
            schema_id = found.id
        else:
            text = schema if isinstance(schema, str) else json.dumps(schema)
            schema_type = _type_of(text)
            schema_id = self._id_in(subject, text, schema_type, ())
        codec = self.codec(schema_id)
        if isinstance(codec, ProtobufCodec):
            raise InvalidRecordError(
                f"subject {subject!r} holds Protobuf schemas: produce a generated message "
                "(e.g. Article(...)), not a " + type(value).__name__
            )
        return frame(schema_id, codec.encode(value))

    def _protobuf_id(self, subject: str, message: PbMessage) -> int:
        """The id of the message's file in ``subject``, found (or registered) once per
        subject and file, then kept until the registry changes."""
        file = message.DESCRIPTOR.file

        def make() -> int:
            text, imports = file_descriptor_text(message)
            references = []
            for path, imported in sorted(imports.items()):  # as Confluent names them
                made = self._id_in(path, imported, PROTOBUF, (), version=True)
                references.append(Reference(path, path, made))
            return self._id_in(subject, text, PROTOBUF, tuple(references))

        found: int = self._kept("_message_ids", (subject, file.name, file.serialized_pb), make)
        return found

    def _id_in(
        self,
        subject: str,
        text: str,
        schema_type: str,
        references: tuple[Reference, ...],
        version: bool = False,
    ) -> int:
        """The id (or, with ``version``, the version number) of ``text`` in ``subject``,
        registered first when allowed."""
        try:
            found = self.lookup(subject, text, schema_type, references)
        except SchemaNotFoundError:
            if not self.auto_register:
                raise InvalidRecordError(
                    f"subject {subject!r} does not hold this schema and automatic "
                    "registration is off; register it first (logway schemas register)"
                ) from None
            found = self.register(subject, text, schema_type, references)
        return found.version if version else found.id


class Schemas(TypedRecords, SchemaRegistry):
    """A broker's schema registry (``SchemaRegistry``, in its log) with typed records."""

    def __init__(self, broker: Broker, auto_register: bool = True) -> None:
        self._typed_state(auto_register)
        super().__init__(broker)

    def _schema_ids(self, subject: str, refresh: bool) -> frozenset[int]:
        with self._lock:
            if refresh:
                self.refresh()
            return frozenset(v.id for v in self._versions.get(subject, {}).values())


class RemoteSchemas(TypedRecords, RegistryClient):
    """The registry at a URL (``RegistryClient``) with typed records: what
    ``broker.schemas`` is on ``kafka://...?schema.registry.url=URL``. What a subject
    holds is asked again when a record names an id not yet seen in it."""

    def __init__(self, url: str, auto_register: bool = True, **credentials: Any) -> None:
        self._typed_state(auto_register)
        super().__init__(url, **credentials)

    def _schema_ids(self, subject: str, refresh: bool) -> frozenset[int]:
        return frozenset(v.id for v in self.subject_versions(subject))


def _type_of(text: str) -> str:
    """AVRO or JSON for a schema's text: JSON Schema documents have ``$schema``,
    ``properties`` or a JSON ``type`` Avro lacks; else Avro."""
    try:
        document = json.loads(text)
    except ValueError:
        return PROTOBUF
    if isinstance(document, dict) and (
        "$schema" in document or "properties" in document or document.get("type") == "object"
    ):
        return JSON
    return AVRO
