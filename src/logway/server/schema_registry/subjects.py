"""The schema registry's subjects and their versions: listing, reading, registering,
looking up and deleting them (soft, then permanently)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from logway import errors
from logway.server.access import Identity
from logway.server.schema_registry.access import SUBJECT, Guard
from logway.server.schema_registry.answers import RegisteredOut, SchemaIn, SchemaOut, error_answers
from logway.server.schema_registry.responses import MEDIA_TYPE, RegistryResponse
from logway.server.schema_registry.shared import (
    described,
    formatted_text,
    page,
    references_of,
    schema_type_of,
    version_out,
)
from logway.server.sessions import address

CONTEXT_WILDCARD = ":*:"  # Confluent's default subjectPrefix: every subject


def add_subject_routes(router: APIRouter, guard: Guard) -> None:
    """``/subjects...``: the list, versions, register, lookup, deletes."""
    registry, access, identified, may = guard.registry, guard.access, guard.identified, guard.may

    @router.get("/subjects", response_model=list[str], responses=error_answers())
    def subjects(
        who: Identity = identified,
        subjectPrefix: str = Query(CONTEXT_WILDCARD, description="only those beginning so"),
        deleted: bool = Query(False, description="with soft-deleted subjects"),
        deletedOnly: bool = Query(False, description="only soft-deleted subjects"),
        deleted_only: bool = Query(False, description="deletedOnly, as the Python client says it"),
        offset: int = Query(0, ge=0),
        limit: int = Query(-1, description="at most this many (all when < 1)"),
    ) -> Response:
        """The subjects the caller may describe."""
        reg = registry()
        prefix = "" if subjectPrefix == CONTEXT_WILDCARD else subjectPrefix
        if deletedOnly or deleted_only:
            live = set(reg.subjects(prefix=prefix))
            found = [s for s in reg.subjects(deleted=True, prefix=prefix) if s not in live]
        else:
            found = reg.subjects(deleted=deleted, prefix=prefix)
        shown = [s for s in found if access.allowed(who, "describe", SUBJECT, s)]
        return RegistryResponse(page(shown, offset, limit))

    @router.get(
        "/subjects/{subject:schema_subject}/versions/{version}/schema",
        responses={200: {"content": {MEDIA_TYPE: {"schema": {}}}}, **error_answers(404)},
        dependencies=[may("read")],
    )
    def version_text(
        subject: str,
        version: str,
        format: str = "",
        deleted: bool = Query(False, description="a soft-deleted version too"),
    ) -> Response:
        """A version's schema text alone."""
        reg = registry()
        schema = reg.get(subject, version, deleted)
        return Response(formatted_text(reg, schema, format), media_type=MEDIA_TYPE)

    @router.get(
        "/subjects/{subject:schema_subject}/versions/{version}/referencedby",
        response_model=list[int],
        responses=error_answers(404),
        dependencies=[may("describe")],
    )
    def referenced_by(
        subject: str,
        version: str,
        offset: int = Query(0, ge=0),
        limit: int = Query(-1, description="at most this many (all when < 1)"),
    ) -> Response:
        """The ids of the schemas that reference this version."""
        reg = registry()
        number = reg.get(subject, version, deleted=True).version
        return RegistryResponse(page(reg.referenced_by(subject, number), offset, limit))

    @router.get(
        "/subjects/{subject:schema_subject}/versions/{version}",
        response_model=SchemaOut,
        responses=error_answers(404),
        dependencies=[may("read")],
    )
    def get_version(
        subject: str,
        version: str,
        format: str = Query("", description="e.g. serialized (Protobuf), resolved (Avro)"),
        deleted: bool = Query(False, description="a soft-deleted version too"),
        lookupDeletedSchema: bool = Query(False, description="deleted, by its older name"),
    ) -> Response:
        """A version: a number, ``latest`` or -1."""
        reg = registry()
        schema = reg.get(subject, version, deleted or lookupDeletedSchema)
        return RegistryResponse(version_out(schema, formatted_text(reg, schema, format)))

    @router.get(
        "/subjects/{subject:schema_subject}/versions",
        response_model=list[int],
        responses=error_answers(404),
        dependencies=[may("describe")],
    )
    def versions(
        subject: str,
        deleted: bool = Query(False, description="with soft-deleted versions"),
        deletedOnly: bool = Query(False, description="only soft-deleted versions"),
        deleted_only: bool = Query(False, description="deletedOnly, as the Python client says it"),
        offset: int = Query(0, ge=0),
        limit: int = Query(-1, description="at most this many (all when < 1)"),
    ) -> Response:
        """The subject's version numbers."""
        reg = registry()
        if deletedOnly or deleted_only:
            every = reg.versions(subject, deleted=True)
            try:
                live = set(reg.versions(subject))
            except errors.SchemaNotFoundError:
                live = set()
            found = [n for n in every if n not in live]
        else:
            found = reg.versions(subject, deleted)
        return RegistryResponse(page(found, offset, limit))

    @router.post(
        "/subjects/{subject:schema_subject}/versions",
        response_model=RegisteredOut,
        responses=error_answers(404, 409),
        dependencies=[may("write")],
    )
    def register(
        request: Request,
        subject: str,
        body: SchemaIn,
        who: Identity = identified,
        normalize: bool = Query(False, description="store the schema's normalized form"),
        format: str = "",
    ) -> Response:
        """Register a schema: its id and version (the existing ones when the subject
        holds it already). 409 when the subject's compatibility level refuses it."""
        for ref in body.references or ():
            access.check(who, "read", SUBJECT, ref.subject, "http", address(request))
        reg = registry()
        schema = reg.register(
            subject, body.schema_, schema_type_of(body.schemaType), references_of(body), normalize
        )
        return RegistryResponse(
            described(
                schema, formatted_text(reg, schema, format), id=schema.id, version=schema.version
            )
        )

    @router.post(
        "/subjects/{subject:schema_subject}",
        response_model=SchemaOut,
        responses=error_answers(404),
        dependencies=[may("describe")],
    )
    def lookup(
        subject: str,
        body: SchemaIn,
        normalize: bool = Query(False, description="look up the schema's normalized form"),
        deleted: bool = Query(False, description="among soft-deleted versions too"),
        lookupDeletedSchema: bool = Query(False, description="deleted, by its older name"),
        format: str = "",
    ) -> Response:
        """The version of the subject holding this schema (the caller holds the
        schema: describe on the subject is enough)."""
        reg = registry()
        schema = reg.lookup(
            subject,
            body.schema_,
            schema_type_of(body.schemaType),
            references_of(body),
            normalize,
            deleted or lookupDeletedSchema,
        )
        return RegistryResponse(version_out(schema, formatted_text(reg, schema, format)))

    @router.delete(
        "/subjects/{subject:schema_subject}/versions/{version}",
        response_model=int,
        responses=error_answers(404),
        dependencies=[may("delete")],
    )
    def delete_version(
        subject: str,
        version: str,
        permanent: bool = Query(False, description="remove a soft-deleted version for good"),
    ) -> Response:
        """Soft-delete a version (its id stays readable), or with ``permanent=true``
        remove a soft-deleted one; the version deleted."""
        return RegistryResponse(registry().delete_version(subject, version, permanent))

    @router.delete(
        "/subjects/{subject:schema_subject}",
        response_model=list[int],
        responses=error_answers(404),
        dependencies=[may("delete")],
    )
    def delete_subject(
        subject: str,
        permanent: bool = Query(False, description="remove a soft-deleted subject for good"),
    ) -> Response:
        """Soft-delete every version, or with ``permanent=true`` remove a soft-deleted
        subject; the versions deleted."""
        return RegistryResponse(registry().delete_subject(subject, permanent))
