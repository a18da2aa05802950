"""The bodies and answers of the schema registry's routes, as pydantic models: they
validate requests and describe Confluent's shapes in the OpenAPI document, with the
error answers every route documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReferenceIn(BaseModel):
    model_config = ConfigDict(strict=True)

    name: str = Field(
        description="how the schema names it: an Avro full name, a Protobuf "
        "import path, a JSON Schema $ref"
    )
    subject: str
    version: int


class SchemaIn(BaseModel):
    """A schema to register, look up or test (Confluent's RegisterSchemaRequest)."""

    model_config = ConfigDict(strict=True)

    schema_: str = Field(alias="schema", description="the schema's text")
    schemaType: str | None = Field(None, description="AVRO (the default), PROTOBUF or JSON")
    references: list[ReferenceIn] | None = None


class ReferenceOut(BaseModel):
    name: str
    subject: str
    version: int


class SchemaOut(BaseModel):
    """A version of a subject; ``schemaType`` is left out for AVRO."""

    subject: str
    version: int
    id: int
    schemaType: str | None = None
    references: list[ReferenceOut] | None = None
    schema_: str = Field(alias="schema")


class RegisteredOut(BaseModel):
    id: int
    version: int | None = None
    schemaType: str | None = None
    references: list[ReferenceOut] | None = None
    schema_: str | None = Field(None, alias="schema")


class SchemaByIdOut(BaseModel):
    schemaType: str | None = None
    references: list[ReferenceOut] | None = None
    schema_: str = Field(alias="schema")


class SubjectVersionOut(BaseModel):
    subject: str
    version: int


class ConfigIn(BaseModel):
    model_config = ConfigDict(strict=True)

    compatibility: str = Field(
        description="NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, "
        "FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE"
    )


class ConfigOut(BaseModel):
    compatibilityLevel: str


class ConfigSet(BaseModel):
    compatibility: str


class ModeIn(BaseModel):
    model_config = ConfigDict(strict=True)

    mode: str = Field(description="READWRITE, READONLY, READONLY_OVERRIDE or IMPORT")


class ModeOut(BaseModel):
    mode: str


class CompatibilityOut(BaseModel):
    is_compatible: bool
    messages: list[str] | None = Field(None, description="with verbose=true: what is incompatible")


class ErrorOut(BaseModel):
    error_code: int = Field(description="Confluent's code, e.g. 40401 subject not found")
    message: str


def error_answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Documented error answers: ``codes`` and those of every route (the 401 and 403 of
    ``--auth``, which the document of a server without it leaves out; 422; 500)."""
    described = {
        401: "no credentials, or credentials that prove nothing (logway serve --auth)",
        403: "the caller may not do this (an ACL)",
        404: "40401 subject, 40402 version or 40403 schema not found, 40404-40407 a "
        "soft-deleted state, 40408/40409 no subject-level setting",
        409: "the schema is incompatible with the subject's earlier versions",
        422: "42201 invalid schema, 42202 invalid version, 42203 invalid compatibility "
        "level, 42204 invalid mode, 42205 operation not permitted (READONLY), 42206 "
        "referenced by another schema; 422 an invalid request",
        500: "50001: the log could not be read or written",
    }
    return {
        code: {"model": ErrorOut, "description": described[code]}
        for code in sorted({401, 403, 422, 500, *codes})
    }
