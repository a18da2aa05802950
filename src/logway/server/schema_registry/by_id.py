"""The schema registry's reads by id: the schema a record's header names (what a
deserializer asks), its text, the subjects and versions holding it; and the schema
types this server registers."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from logway.server.access import Identity
from logway.server.schema_registry.access import SUBJECT, Guard
from logway.server.schema_registry.answers import SchemaByIdOut, SubjectVersionOut, error_answers
from logway.server.schema_registry.responses import MEDIA_TYPE, RegistryResponse
from logway.server.schema_registry.shared import available, described, formatted_text, page


def add_by_id_routes(router: APIRouter, guard: Guard) -> None:
    """``/schemas/types`` and ``/schemas/ids/{id}...``."""
    registry, access, identified = guard.registry, guard.access, guard.identified
    by_id_allowed = guard.by_id_allowed

    @router.get("/schemas/types", response_model=list[str], responses=error_answers())
    def types(who: Identity = identified) -> Response:
        """The schema types this server registers."""
        return RegistryResponse([t for t in registry().types() if available(t)])

    @router.get("/schemas/ids/{id}", response_model=SchemaByIdOut, responses=error_answers(404))
    def schema_by_id(
        request: Request,
        id: int,
        who: Identity = identified,
        subject: str | None = Query(None, description="a subject holding it (ignored)"),
        format: str = Query("", description="e.g. serialized (Protobuf), resolved (Avro)"),
    ) -> Response:
        """The schema with that id (soft-deleted versions' ids stay readable): what a
        deserializer asks for the id in a record's header."""
        by_id_allowed(request, who, id)
        reg = registry()
        schema = reg.by_id(id)
        return RegistryResponse(described(schema, formatted_text(reg, schema, format)))

    @router.get(
        "/schemas/ids/{id}/schema",
        responses={200: {"content": {MEDIA_TYPE: {"schema": {}}}}, **error_answers(404)},
    )
    def schema_text_by_id(
        request: Request,
        id: int,
        who: Identity = identified,
        subject: str | None = Query(None, description="a subject holding it (ignored)"),
        format: str = "",
    ) -> Response:
        """The schema's text alone."""
        by_id_allowed(request, who, id)
        reg = registry()
        schema = reg.by_id(id)
        return Response(formatted_text(reg, schema, format), media_type=MEDIA_TYPE)

    @router.get(
        "/schemas/ids/{id}/subjects", response_model=list[str], responses=error_answers(404)
    )
    def subjects_by_id(
        request: Request,
        id: int,
        who: Identity = identified,
        subject: str | None = Query(None, description="only this subject"),
        deleted: bool = Query(False, description="with soft-deleted versions"),
        offset: int = Query(0, ge=0),
        limit: int = Query(-1, description="at most this many (all when < 1)"),
    ) -> Response:
        """The subjects holding the id (those the caller may describe)."""
        by_id_allowed(request, who, id)
        found = sorted({s for s, _ in registry().uses(id, deleted) if subject in (None, s)})
        shown = [s for s in found if access.allowed(who, "describe", SUBJECT, s)]
        return RegistryResponse(page(shown, offset, limit))

    @router.get(
        "/schemas/ids/{id}/versions",
        response_model=list[SubjectVersionOut],
        responses=error_answers(404),
    )
    def versions_by_id(
        request: Request,
        id: int,
        who: Identity = identified,
        subject: str | None = Query(None, description="only this subject"),
        deleted: bool = Query(False, description="with soft-deleted versions"),
        offset: int = Query(0, ge=0),
        limit: int = Query(-1, description="at most this many (all when < 1)"),
    ) -> Response:
        """The (subject, version) pairs holding the id (of subjects the caller may
        describe)."""
        by_id_allowed(request, who, id)
        found = [
            {"subject": s, "version": v}
            for s, v in registry().uses(id, deleted)
            if subject in (None, s) and access.allowed(who, "describe", SUBJECT, s)
        ]
        return RegistryResponse(page(found, offset, limit))
