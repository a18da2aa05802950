"""What the schema registry holds and the checks on what it is asked: ``Reference``,
``Schema`` (one version of a subject), a parsed schema with its identity, the
compatibility levels and modes, subject and version checks, and Confluent's error codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from logway.errors import InvalidSchemaError
from logway.schemas.kinds import AVRO, kind

LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)
DEFAULT_LEVEL = "BACKWARD"
MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")
DEFAULT_MODE = "READWRITE"
MAX_SUBJECT = 255

# Confluent's error codes
SUBJECT_NOT_FOUND, VERSION_NOT_FOUND, SCHEMA_NOT_FOUND = 40401, 40402, 40403
SUBJECT_SOFT_DELETED, SUBJECT_NOT_SOFT_DELETED = 40404, 40405
VERSION_SOFT_DELETED, VERSION_NOT_SOFT_DELETED = 40406, 40407
SUBJECT_LEVEL_NOT_CONFIGURED, SUBJECT_MODE_NOT_CONFIGURED = 40408, 40409
INVALID_SCHEMA, INVALID_VERSION, INVALID_LEVEL, INVALID_MODE = 42201, 42202, 42203, 42204
OPERATION_NOT_PERMITTED, REFERENCE_EXISTS = 42205, 42206

LATEST = ("latest", -1, "-1")  # how a version says "the latest"


@dataclass(frozen=True)
class Reference:
    """Another registered schema a schema uses: ``name`` is how the schema names it
    (a Protobuf import path, an Avro full name, a JSON Schema ``$ref`` URL)."""

    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}

    @classmethod
    def of(cls, value: Any) -> Reference:
        if isinstance(value, Reference):
            return value
        try:
            name, subject, version = value["name"], value["subject"], value["version"]
        except (TypeError, KeyError):
            raise InvalidSchemaError(
                f"a reference needs name, subject and version, not {value!r}"
            ) from None
        if not isinstance(name, str) or not isinstance(subject, str) or not name:
            raise InvalidSchemaError(f"a reference's name and subject are strings: {value!r}")
        return cls(name, subject, version_number(version))


@dataclass(frozen=True)
class Schema:
    """One version of a subject."""

    subject: str
    version: int
    id: int
    schema_type: str
    schema: str
    references: tuple[Reference, ...] = ()
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "version": self.version,
            "id": self.id,
            "schemaType": self.schema_type,
            "schema": self.schema,
            "references": [r.to_json() for r in self.references],
            "deleted": self.deleted,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Schema:
        return cls(
            str(value["subject"]),
            int(value["version"]),
            int(value["id"]),
            str(value.get("schemaType") or AVRO),
            str(value["schema"]),
            tuple(Reference.of(r) for r in value.get("references") or ()),
            bool(value.get("deleted", False)),
        )


@dataclass
class Parsed:
    """A parsed schema, with what identifies it."""

    schema_type: str
    text: str  # as stored: the registered text, or its normalized form
    references: tuple[Reference, ...]
    parsed: Any
    identity: tuple[str, str, tuple[Reference, ...]] = field(init=False)

    def __post_init__(self) -> None:
        canonical = kind(self.schema_type).canonical(self.parsed, False)
        self.identity = (self.schema_type, canonical, self.references)


def version_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 1 << 31:
        raise InvalidSchemaError(
            f"a version is a number from 1, not {value!r}", error_code=INVALID_VERSION
        )
    return value


def check_subject(subject: object) -> str:
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT:
        raise InvalidSchemaError(
            f"a subject is a name of 1 to {MAX_SUBJECT} characters, not {subject!r}"
        )
    if any(ord(c) < 32 for c in subject):
        raise InvalidSchemaError(f"a subject cannot hold control characters: {subject!r}")
    return subject


def check_level(level: object) -> str:
    upper = str(level).upper() if isinstance(level, str) else ""
    if upper not in LEVELS:
        raise InvalidSchemaError(
            f"unknown compatibility level {level!r}; one of {', '.join(LEVELS)}",
            error_code=INVALID_LEVEL,
        )
    return upper


def check_mode(mode: object) -> str:
    upper = str(mode).upper() if isinstance(mode, str) else ""
    if upper not in MODES:
        raise InvalidSchemaError(
            f"unknown mode {mode!r}; one of {', '.join(MODES)}", error_code=INVALID_MODE
        )
    return upper
