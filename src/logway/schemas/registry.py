"""A schema registry with Confluent Schema Registry's model, kept in the log.

Subjects hold versions (1, 2, ...) of schemas; a schema has one global id, shared by
every subject that registers the same schema (same type, same canonical text, same
references). A subject's compatibility level (or the global one, BACKWARD by
default) says which earlier versions a new one must be compatible with, and how:

- BACKWARD: readers of the new schema read data written with the latest version;
  FORWARD: readers of the latest read data written with the new; FULL: both;
- the ``_TRANSITIVE`` levels ask the same of every version, not the latest alone;
- NONE asks nothing.

Versions are soft-deleted first (hidden, their ids still readable) and then may be
deleted permanently; the mode (READWRITE, READONLY, IMPORT) refuses writes while
READONLY. Everything is kept in the topic ``__logway_schemas`` (one partition, kept
forever), one record per change, so ids stay the same after a restart and backups,
restores and mirrors carry them:

- ``schema:VERSION:SUBJECT``: ``{"subject", "version", "id", "schemaType", "schema",
  "references": [{"name", "subject", "version"}], "deleted"}``; a tombstone deletes
  the version permanently;
- ``config:SUBJECT`` (``config:`` for the global one): ``{"compatibility"}``;
- ``mode:SUBJECT`` (``mode:`` global): ``{"mode"}``.

Errors carry Confluent's error codes (``logway.errors.SchemaRegistryError``). What the
registry holds and checks is in ``model``; what a level compares, in ``compatibility``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from logway.broker import Broker
from logway.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    SchemaNotFoundError,
    SchemaStateError,
)
from logway.keyed_topic import KeyedTopic
from logway.schemas import compatibility
from logway.schemas.kinds import TYPES, kind
from logway.schemas.model import (
    DEFAULT_LEVEL,
    DEFAULT_MODE,
    INVALID_VERSION,
    LATEST,
    LEVELS,
    MODES,
    OPERATION_NOT_PERMITTED,
    REFERENCE_EXISTS,
    SCHEMA_NOT_FOUND,
    SUBJECT_LEVEL_NOT_CONFIGURED,
    SUBJECT_MODE_NOT_CONFIGURED,
    SUBJECT_NOT_FOUND,
    SUBJECT_NOT_SOFT_DELETED,
    SUBJECT_SOFT_DELETED,
    VERSION_NOT_FOUND,
    VERSION_NOT_SOFT_DELETED,
    VERSION_SOFT_DELETED,
    Parsed,
    Reference,
    Schema,
    check_level,
    check_mode,
    check_subject,
    version_number,
)

__all__ = [  # what is imported from here (the model's names live in ``model``)
    "LEVELS",
    "MODES",
    "SCHEMAS_TOPIC",
    "SUBJECT_NOT_FOUND",
    "Reference",
    "Schema",
    "SchemaRegistry",
    "check_level",
    "check_mode",
    "check_subject",
]

SCHEMAS_TOPIC = "__logway_schemas"


class SchemaRegistry:
    """The registry of a broker (see the module's docstring). Safe to use from
    several threads; what other processes wrote shows after ``refresh()``, which
    every change and every miss does first."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._lock = threading.RLock()
        self._versions: dict[str, dict[int, Schema]] = {}  # subject -> version -> schema
        self._by_id: dict[int, Schema] = {}  # id -> the first version registered with it
        self._config: dict[str, str] = {}  # subject ("" global) -> level
        self._mode: dict[str, str] = {}
        self._parsed: dict[int, Parsed] = {}  # id -> parsed, filled as asked
        self.generation = 0  # counts changes applied, so caches of what it holds can tell
        self._log = KeyedTopic(broker, SCHEMAS_TOPIC, self._apply, self._forget, retention_ms=-1)
        self.refresh()

    # --- the topic ------------------------------------------------------------------

    def refresh(self) -> None:
        with self._lock:
            self._log.refresh()

    def _forget(self) -> None:
        self.generation += 1
        self._versions, self._by_id, self._config, self._mode = {}, {}, {}, {}
        self._parsed = {}

    def _apply(self, key: str, value: dict[str, Any] | None, offset: int) -> bool:
        self.generation += 1
        kind_, _, rest = key.partition(":")
        if kind_ == "schema":
            number, _, subject = rest.partition(":")
            version = int(number)
            if value is None:
                gone = self._versions.get(subject, {}).pop(version, None)
                if gone is not None and not self._versions[subject]:
                    del self._versions[subject]
                if gone is not None and self._by_id.get(gone.id) == gone:
                    del self._by_id[gone.id]
                    for other in self._all():  # another version may hold the id still
                        if other.id == gone.id:
                            self._by_id[gone.id] = other
                            break
                return True
            schema = Schema.from_json(value)
            self._versions.setdefault(subject, {})[version] = schema
            holder = self._by_id.get(schema.id)
            if holder is None or (holder.subject, holder.version) == (subject, version):
                self._by_id[schema.id] = schema  # the first version with the id, as it is now
        elif kind_ == "config":
            self._set_or_drop(self._config, rest, value, "compatibility")
        elif kind_ == "mode":
            self._set_or_drop(self._mode, rest, value, "mode")
        else:
            raise ValueError(f"unknown key {key!r}")
        return True

    @staticmethod
    def _set_or_drop(
        table: dict[str, str], subject: str, value: dict[str, Any] | None, name: str
    ) -> None:
        if value is None:
            table.pop(subject, None)
        else:
            table[subject] = str(value[name])

    def _all(self) -> Iterable[Schema]:
        for versions in self._versions.values():
            yield from versions.values()

    # --- reading --------------------------------------------------------------------

    def subjects(self, deleted: bool = False, prefix: str = "") -> list[str]:
        """Subjects with a live version (or a soft-deleted one, with ``deleted``)."""
        with self._lock:
            self.refresh()
            return sorted(
                s
                for s, versions in self._versions.items()
                if s.startswith(prefix) and any(deleted or not v.deleted for v in versions.values())
            )

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        with self._lock:
            self.refresh()
            found = self._live(subject, deleted)
            return sorted(found)

    def _live(self, subject: str, deleted: bool = False) -> dict[int, Schema]:
        versions = {
            n: v for n, v in self._versions.get(subject, {}).items() if deleted or not v.deleted
        }
        if not versions:
            raise SchemaNotFoundError(f"subject {subject!r} not found", SUBJECT_NOT_FOUND)
        return versions

    def get(self, subject: str, version: int | str = "latest", deleted: bool = False) -> Schema:
        """A version of ``subject``: a number (a soft-deleted one too, with ``deleted``),
        or "latest" / -1: the latest *live* version whatever ``deleted`` says, as
        Confluent reads it (40402 when every version is soft-deleted, 40401 when the
        subject has none)."""
        with self._lock:
            self.refresh()
            live = self._live(subject, deleted)
            if version in LATEST:
                numbers = [n for n, v in live.items() if not v.deleted]
                if not numbers:
                    raise SchemaNotFoundError(
                        f"subject {subject!r} has no live version (all are soft-deleted)",
                        VERSION_NOT_FOUND,
                    )
                return live[max(numbers)]
            try:
                number = version_number(int(version))
            except (TypeError, ValueError):
                raise InvalidSchemaError(
                    f"a version is a number from 1, -1 or 'latest', not {version!r}",
                    error_code=INVALID_VERSION,
                ) from None
            found = live.get(number)
            if found is None:
                raise SchemaNotFoundError(
                    f"subject {subject!r} has no version {number}", VERSION_NOT_FOUND
                )
            return found

    def by_id(self, schema_id: int) -> Schema:
        """The schema with that id (a soft-deleted one too, as Confluent serves it)."""
        with self._lock:
            found = self._by_id.get(schema_id)
            if found is None:
                self.refresh()
                found = self._by_id.get(schema_id)
            if found is None:
                raise SchemaNotFoundError(f"no schema has id {schema_id}", SCHEMA_NOT_FOUND)
            return found

    def parsed(self, schema_id: int) -> Any:
        """The parsed form of a schema by id, kept after the first time (a lookup is
        then one dict read)."""
        found = self._parsed.get(schema_id)
        if found is not None:
            return found.parsed
        schema = self.by_id(schema_id)
        with self._lock:
            parsed = self._parse(schema.schema_type, schema.schema, schema.references, False)
            self._parsed[schema_id] = parsed
            return parsed.parsed

    def uses(self, schema_id: int, deleted: bool = False) -> list[tuple[str, int]]:
        """(subject, version) of every live version with that id (soft-deleted ones
        too, with ``deleted``: Confluent's ``/schemas/ids/{id}/versions?deleted=true``)."""
        with self._lock:
            self.by_id(schema_id)
            return sorted(
                (s.subject, s.version)
                for s in self._all()
                if s.id == schema_id and (deleted or not s.deleted)
            )

    def referenced_by(self, subject: str, version: int) -> list[int]:
        """Ids of the schemas that reference that version."""
        with self._lock:
            return sorted(
                {
                    s.id
                    for s in self._all()
                    if not s.deleted
                    and any(r.subject == subject and r.version == version for r in s.references)
                }
            )

    # --- compatibility and mode settings -------------------------------------------

    def compatibility(self, subject: str | None = None, default_to_global: bool = True) -> str:
        return self._setting(
            self._config,
            subject,
            default_to_global,
            DEFAULT_LEVEL,
            "compatibility level",
            SUBJECT_LEVEL_NOT_CONFIGURED,
        )

    def _setting(
        self,
        table: dict[str, str],
        subject: str | None,
        default_to_global: bool,
        default: str,
        what: str,
        missing_code: int,
    ) -> str:
        """A subject's own setting in ``table`` (a level or a mode), else the global
        one, else ``default``; without ``default_to_global``, a subject without its own
        is ``SchemaNotFoundError`` with ``missing_code``."""
        with self._lock:
            self.refresh()
            if subject:
                found = table.get(subject)
                if found is not None:
                    return found
                if not default_to_global:
                    raise SchemaNotFoundError(
                        f"subject {subject!r} has no {what} of its own", missing_code
                    )
            return table.get("", default)

    def _set(self, kind_: str, field_: str, value: str, subject: str | None) -> str:
        """Write a subject's setting (the global one for no subject)."""
        with self._lock:
            self.refresh()
            if subject:
                check_subject(subject)
            self._log.write(f"{kind_}:{subject or ''}", {field_: value})
            return value

    def set_compatibility(self, level: str, subject: str | None = None) -> str:
        return self._set("config", "compatibility", check_level(level), subject)

    def delete_compatibility(self, subject: str | None = None) -> str:
        """Forget a subject's level (it follows the global one again), or set the
        global one back to the default; returns the level it had."""
        with self._lock:
            previous = self.compatibility(subject, default_to_global=not subject)
            self._log.write(f"config:{subject or ''}", None)
            return previous

    def mode(self, subject: str | None = None, default_to_global: bool = True) -> str:
        return self._setting(
            self._mode,
            subject,
            default_to_global,
            DEFAULT_MODE,
            "mode",
            SUBJECT_MODE_NOT_CONFIGURED,
        )

    def set_mode(self, mode: str, subject: str | None = None) -> str:
        return self._set("mode", "mode", check_mode(mode), subject)

    def delete_mode(self, subject: str) -> str:
        with self._lock:
            previous = self.mode(subject, default_to_global=False)
            self._log.write(f"mode:{subject}", None)
            return previous

    def _writable(self, subject: str) -> None:
        if self.mode(subject) in ("READONLY", "READONLY_OVERRIDE"):
            raise SchemaStateError(
                f"subject {subject!r} is in READONLY mode: nothing may be written",
                OPERATION_NOT_PERMITTED,
                422,
            )

    # --- registering ----------------------------------------------------------------

    def _resolve(self, references: tuple[Reference, ...], seen: frozenset[str]) -> dict[str, str]:
        """The texts of ``references`` and of what they reference, by name."""
        texts: dict[str, str] = {}
        for ref in references:
            key = f"{ref.subject}:{ref.version}"
            if key in seen:
                raise InvalidSchemaError(f"references loop through {ref.subject} v{ref.version}")
            try:
                target = self._live(ref.subject).get(ref.version)
            except SchemaNotFoundError:
                target = None
            if target is None:
                raise InvalidSchemaError(
                    f"reference {ref.name!r} names {ref.subject!r} version {ref.version}, "
                    "which is not registered"
                )
            texts.update(self._resolve(target.references, seen | {key}))
            texts[ref.name] = target.schema
        return texts

    def _parse(
        self,
        schema_type: str | None,
        text: object,
        references: Iterable[Any],
        normalize: bool,
    ) -> Parsed:
        found_kind = kind(schema_type)
        if not isinstance(text, str) or not text.strip():
            raise InvalidSchemaError("a schema is a non-empty string")
        refs = tuple(Reference.of(r) for r in references or ())
        parsed = found_kind.parse(text, self._resolve(refs, frozenset()))
        stored = found_kind.canonical(parsed, True) if normalize else text
        return Parsed(found_kind.name, stored, refs, parsed)

    def _find(self, subject: str, candidate: Parsed, deleted: bool) -> Schema | None:
        for version in sorted(self._versions.get(subject, {}).values(), key=lambda v: v.version):
            if (deleted or not version.deleted) and self._identity(version) == candidate.identity:
                return version
        return None

    def _identity(self, schema: Schema) -> tuple[str, str, tuple[Reference, ...]]:
        parsed = self._parsed.get(schema.id)
        if parsed is None:
            parsed = self._parse(schema.schema_type, schema.schema, schema.references, False)
            self._parsed[schema.id] = parsed
        return parsed.identity

    def lookup(
        self,
        subject: str,
        schema: str,
        schema_type: str | None = None,
        references: Iterable[Any] = (),
        normalize: bool = False,
        deleted: bool = False,
    ) -> Schema:
        """The version of ``subject`` that holds this schema."""
        with self._lock:
            self.refresh()
            check_subject(subject)
            candidate = self._parse(schema_type, schema, references, normalize)
            self._live(subject, deleted)  # 40401 when no version is live (or any, deleted)
            found = self._find(subject, candidate, deleted)
            if found is None:
                raise SchemaNotFoundError(
                    f"subject {subject!r} has no version with this schema", SCHEMA_NOT_FOUND
                )
            return found

    def register(
        self,
        subject: str,
        schema: str,
        schema_type: str | None = None,
        references: Iterable[Any] = (),
        normalize: bool = False,
    ) -> Schema:
        """Register ``schema`` under ``subject`` and return its version: the existing
        one when the subject holds it already, else a new version (with the id of the
        same schema elsewhere, or a new id) if the subject's compatibility level
        allows it. ``IncompatibleSchemaError`` lists what it refuses."""
        with self._lock:
            self.refresh()
            check_subject(subject)
            self._writable(subject)
            candidate = self._parse(schema_type, schema, references, normalize)
            existing = self._find(subject, candidate, deleted=False)
            if existing is not None:
                return existing
            problems = self._problems(subject, candidate, None)
            if problems:
                raise IncompatibleSchemaError(
                    f"the schema is incompatible with subject {subject!r} under "
                    f"{self.compatibility(subject)}: " + "; ".join(problems),
                    problems,
                )
            schema_id = self._id_for(candidate)
            numbers = self._versions.get(subject, {})
            version = max(numbers, default=0) + 1
            made = Schema(
                subject,
                version,
                schema_id,
                candidate.schema_type,
                candidate.text,
                candidate.references,
            )
            self._log.write(f"schema:{version}:{subject}", made.to_json())
            self._parsed.setdefault(schema_id, candidate)
            return made

    def _id_for(self, candidate: Parsed) -> int:
        for schema in self._by_id.values():
            if self._identity(schema) == candidate.identity:
                return schema.id
        return max(self._by_id, default=0) + 1

    def check(
        self,
        subject: str,
        schema: str,
        schema_type: str | None = None,
        references: Iterable[Any] = (),
        version: int | str | None = "latest",
        normalize: bool = False,
    ) -> list[str]:
        """What keeps ``schema`` from being registered under ``subject``: checked
        against one version (a number or "latest"), or, with ``version=None``, against
        the versions the subject's level names. [] when compatible."""
        with self._lock:
            self.refresh()
            check_subject(subject)
            candidate = self._parse(schema_type, schema, references, normalize)
            if version is None:
                return self._problems(subject, candidate, None)
            against = self.get(subject, version)
            return self._problems(subject, candidate, [against])

    def _problems(self, subject: str, candidate: Parsed, against: list[Schema] | None) -> list[str]:
        """What keeps ``candidate`` from joining ``subject`` under its level: checked
        against ``against``, or (None) the versions the level names."""
        level = self.compatibility(subject)
        if against is None:
            against = compatibility.compared(level, self._versions.get(subject, {}))
        return compatibility.problems(level, candidate, against, self._parsed_version)

    def _parsed_version(self, schema: Schema) -> Any:
        self._identity(schema)
        return self._parsed[schema.id].parsed

    # --- deleting -------------------------------------------------------------------

    def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        """Soft-delete a version (it is hidden; its id stays readable); with
        ``permanent``, remove a soft-deleted one for good. Returns the version."""
        with self._lock:
            self.refresh()
            self._writable(subject)
            target = self.get(subject, version, deleted=True)  # "latest": the live one
            used_by = self.referenced_by(subject, target.version)
            if used_by:
                raise SchemaStateError(
                    f"{subject!r} version {target.version} is referenced by schema ids "
                    f"{used_by}; delete those first",
                    REFERENCE_EXISTS,
                    422,
                )
            if permanent:
                if not target.deleted:
                    raise SchemaStateError(
                        f"{subject!r} version {target.version} must be soft-deleted before a "
                        "permanent delete",
                        VERSION_NOT_SOFT_DELETED,
                    )
                self._log.write(f"schema:{target.version}:{subject}", None)
            else:
                if target.deleted:
                    raise SchemaStateError(
                        f"{subject!r} version {target.version} is soft-deleted already",
                        VERSION_SOFT_DELETED,
                    )
                gone = Schema(**{**target.__dict__, "deleted": True})
                self._log.write(f"schema:{target.version}:{subject}", gone.to_json())
            return target.version

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """Soft-delete every version of ``subject``; with ``permanent``, remove a
        soft-deleted subject for good. Returns the versions deleted."""
        with self._lock:
            self.refresh()
            self._writable(subject)
            every = self._live(subject, deleted=True)
            live = [n for n, v in sorted(every.items()) if not v.deleted]
            for number in every:
                used_by = self.referenced_by(subject, number)
                if used_by:
                    raise SchemaStateError(
                        f"{subject!r} version {number} is referenced by schema ids "
                        f"{used_by}; delete those first",
                        REFERENCE_EXISTS,
                        422,
                    )
            if permanent:
                if live:
                    raise SchemaStateError(
                        f"subject {subject!r} must be soft-deleted before a permanent delete",
                        SUBJECT_NOT_SOFT_DELETED,
                    )
                for number in sorted(every):
                    self._log.write(f"schema:{number}:{subject}", None)
                if subject in self._config:
                    self._log.write(f"config:{subject}", None)
                return sorted(every)
            if not live:
                raise SchemaStateError(
                    f"subject {subject!r} is soft-deleted already", SUBJECT_SOFT_DELETED
                )
            for number in live:
                gone = Schema(**{**every[number].__dict__, "deleted": True})
                self._log.write(f"schema:{number}:{subject}", gone.to_json())
            return live

    @staticmethod
    def types() -> list[str]:
        return list(TYPES)
