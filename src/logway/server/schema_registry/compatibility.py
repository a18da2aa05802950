"""The schema registry's compatibility tests: whether a schema could follow one version
of a subject, or be registered under the subject's level (with ``verbose``, what is
incompatible)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from logway import errors
from logway.schemas.registry import SUBJECT_NOT_FOUND
from logway.server.schema_registry.access import Guard
from logway.server.schema_registry.answers import CompatibilityOut, SchemaIn, error_answers
from logway.server.schema_registry.responses import RegistryResponse
from logway.server.schema_registry.shared import is_latest, references_of, schema_type_of


def add_compatibility_routes(router: APIRouter, guard: Guard) -> None:
    """``/compatibility/subjects/{subject}/versions[/{version}]``."""
    registry = guard.registry

    def compatibility_answer(check: Callable[[], list[str]], verbose: bool) -> Response:
        try:
            problems = check()
        except errors.InvalidSchemaError as exc:
            if not verbose or exc.error_code != 42201:
                raise
            problems = [str(exc)]  # as Confluent: verbose tells, not refuses
        out: dict[str, Any] = {"is_compatible": not problems}
        if verbose:
            out["messages"] = problems
        return RegistryResponse(out)

    @router.post(
        "/compatibility/subjects/{subject:schema_subject}/versions/{version}",
        response_model=CompatibilityOut,
        responses=error_answers(404),
        dependencies=[guard.may_test()],
    )
    def test_against_version(
        subject: str,
        version: str,
        body: SchemaIn,
        normalize: bool = False,
        verbose: bool = Query(False, description="say what is incompatible"),
    ) -> Response:
        """Whether the schema could follow this version under the subject's level
        (``latest`` of a subject without versions: compatible)."""
        reg = registry()
        schema_type = schema_type_of(body.schemaType)
        refs = references_of(body)
        against: str | None = version
        if is_latest(version):
            try:
                reg.get(subject, "latest")
            except errors.SchemaNotFoundError as exc:
                if exc.error_code != SUBJECT_NOT_FOUND:
                    raise
                against = None  # nothing to be compatible with: the schema is only parsed

        def check() -> list[str]:
            return reg.check(subject, body.schema_, schema_type, refs, against, normalize)

        return compatibility_answer(check, verbose)

    @router.post(
        "/compatibility/subjects/{subject:schema_subject}/versions",
        response_model=CompatibilityOut,
        responses=error_answers(),
        dependencies=[guard.may_test()],
    )
    def test_against_level(
        subject: str,
        body: SchemaIn,
        normalize: bool = False,
        verbose: bool = Query(False, description="say what is incompatible"),
    ) -> Response:
        """Whether the schema could be registered: checked against the versions the
        subject's compatibility level names."""
        reg = registry()
        schema_type = schema_type_of(body.schemaType)
        refs = references_of(body)

        def check() -> list[str]:
            return reg.check(subject, body.schema_, schema_type, refs, None, normalize)

        return compatibility_answer(check, verbose)
