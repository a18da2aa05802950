"""Confluent Schema Registry's REST API over ``logway.schemas.SchemaRegistry``, served
under ``/schemas`` on the HTTP port, so Confluent's clients and serializers use it
unchanged: ``SchemaRegistryClient({"url": "http://HOST:PORT/schemas"})``.

The paths, query parameters, bodies and answers are Confluent's (its API reference and
``confluent-kafka-python``'s ``schema_registry_client.py``): answers are
``application/vnd.schemaregistry.v1+json``; a schema's ``schemaType`` is left out for
AVRO and its ``references`` when it has none; errors are ``{"error_code", "message"}``
with Confluent's codes (``logway.errors.SchemaRegistryError``), 401 and 403 carrying
40101 and 40301. The registry's own paths follow the client's base URL, so the schema
by id is ``/schemas/schemas/ids/{id}``. Subjects may hold ``/`` (a Protobuf import path
names its reference's subject): the client sends it as ``%2F``.

With ``logway serve --auth`` a request asks ``Access`` first, for operations on the
``schema_subject`` resource (Kafka's ACL model, as Confluent's RBAC does for subjects):

- listing a subject's versions, its references, a lookup of a schema the caller
  holds: ``describe``; reading a version's schema: ``read``; registering: ``write``
  (and ``read`` on the subjects its references name); a compatibility test: ``read``
  or ``write``; deleting: ``delete``;
- a subject's compatibility level or mode: ``describe_configs`` to read,
  ``alter_configs`` to change; the global ones the same on the cluster;
- a schema by id: ``read`` on a subject holding it, or ``describe`` on the cluster
  (an id no subject the caller may read holds is refused, not found);
- the subject list shows what the caller may describe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException

from logway import errors
from logway.auth.acls import CLUSTER_NAME
from logway.broker import Broker
from logway.schemas.kinds import AVRO, kind
from logway.schemas.registry import SUBJECT_NOT_FOUND, Schema, SchemaRegistry
from logway.server.access import Access, Identity
from logway.server.sessions import address, challenge

log = logging.getLogger("logway.server.schema_registry")

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
SUBJECT, CLUSTER = "schema_subject", "cluster"
TAG = "schema registry"
CONTEXT_WILDCARD = ":*:"  # Confluent's default subjectPrefix: every subject
UNAUTHORIZED, FORBIDDEN, UNPROCESSABLE, STORE_ERROR = 40101, 40301, 422, 50001
SERVED = ("GET", "HEAD", "POST", "PUT", "DELETE")
UNSERVED = ("PATCH", "OPTIONS", "TRACE")


class RegistryResponse(JSONResponse):
    media_type = MEDIA_TYPE


class _SubjectConvertor(Convertor[str]):
    """A subject in a path: any characters, ``/`` (sent as ``%2F``) and control
    characters too (which the registry then refuses with 42201, rather than the route
    not being found)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("schema_subject", _SubjectConvertor())


# --- bodies and answers (for validation and the OpenAPI document) --------------------


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


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
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


# --- errors in Confluent's shape ---------------------------------------------------


def error_response(request: Request, exc: Exception) -> Response:
    """``{"error_code", "message"}`` with the HTTP status Confluent gives the case."""
    headers = None
    if isinstance(exc, errors.SchemaRegistryError):
        status, code = exc.http_status, exc.error_code
    elif isinstance(exc, errors.AuthenticationError):
        status, code = 401, UNAUTHORIZED
        headers = {"WWW-Authenticate": challenge(request)}
    elif isinstance(exc, errors.PermissionDeniedError):
        status, code = 403, FORBIDDEN
    elif isinstance(exc, errors.InvalidArgumentError):
        status, code = 422, UNPROCESSABLE
    elif isinstance(exc, RequestValidationError):
        status, code = 422, UNPROCESSABLE
        exc = ValueError(_validation_message(exc))
    elif isinstance(exc, HTTPException):
        status, code = exc.status_code, exc.status_code
        exc = ValueError(exc.detail)
    else:
        if not isinstance(exc, errors.LogwayError):
            log.exception("schema registry request %s %s failed", request.method, request.url.path)
        status, code = 500, STORE_ERROR
    return RegistryResponse({"error_code": code, "message": str(exc)}, status, headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(x) for x in error.get("loc", ()) if x != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "invalid request: " + "; ".join(parts)


class _RegistryRoute(APIRoute):
    """A route whose errors (its dependencies' too: authentication, permissions,
    validation) are answered in Confluent's shape, not the app's."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except Exception as exc:  # every error: Confluent's clients read its code
                return error_response(request, exc)
            return response

        return handle


# --- helpers ----------------------------------------------------------------------


class _Lazy:
    """The app's one ``SchemaRegistry``, made on the first request that needs it (it
    replays ``__logway_schemas``)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._lock = threading.Lock()
        self._registry: SchemaRegistry | None = None

    def __call__(self) -> SchemaRegistry:
        if self._registry is None:
            with self._lock:
                if self._registry is None:
                    self._registry = SchemaRegistry(self._broker)
        return self._registry


def _schema_type(name: str | None) -> str:
    """The type named (AVRO when none), refused with 42201 when this server has no
    implementation of it."""
    try:
        return kind(name).name
    except ImportError:
        raise errors.InvalidSchemaError(
            f"{name} schemas are not supported by this server; "
            f"GET /schemas/schemas/types lists those that are"
        ) from None


def _available(name: str) -> bool:
    try:
        kind(name)
    except (ImportError, errors.InvalidSchemaError):
        return False
    return True


def _references(body: SchemaIn) -> list[dict[str, Any]]:
    return [r.model_dump() for r in body.references or ()]


def _described(schema: Schema, text: str, **fields: Any) -> dict[str, Any]:
    """A schema's fields as Confluent writes them: no schemaType for AVRO, no empty
    references."""
    out = dict(fields)
    if schema.schema_type != AVRO:
        out["schemaType"] = schema.schema_type
    if schema.references:
        out["references"] = [r.to_json() for r in schema.references]
    out["schema"] = text
    return out


def _version_out(schema: Schema, text: str) -> dict[str, Any]:
    return _described(schema, text, subject=schema.subject, version=schema.version, id=schema.id)


def _formatted(registry: SchemaRegistry, schema: Schema, fmt: str) -> str:
    """The schema's text in ``format`` (Confluent's ``formattedString``: Avro
    ``resolved``, Protobuf ``serialized``...), when its kind offers
    ``formatted(parsed, format)``; else as registered."""
    if not fmt.strip():
        return schema.schema
    formatted = getattr(kind(schema.schema_type), "formatted", None)
    if formatted is None:
        return schema.schema
    text = formatted(registry.parsed(schema.id), fmt.strip())
    return schema.schema if text is None else str(text)


def _page(items: Iterable[Any], offset: int, limit: int) -> list[Any]:
    """Confluent's paging: skip ``offset``, then at most ``limit`` (all when < 1)."""
    listed = list(items)[offset:]
    return listed if limit < 1 else listed[:limit]


def _latest(version: str) -> bool:
    return version.strip().lower() in ("latest", "-1")


# --- the routes ---------------------------------------------------------------------


def schema_registry_router(broker: Broker, access: Access, caller: Callable[..., Any]) -> APIRouter:
    """The routes, to include under ``/schemas``; ``caller`` is the app's dependency
    that says who sent a request (``Identity``)."""
    registry = _Lazy(broker)
    identified = Depends(caller)  # who sent the request (in the document: how to say it)
    router = APIRouter(
        tags=[TAG],
        route_class=_RegistryRoute,
        default_response_class=RegistryResponse,
        strict_content_type=False,  # a body without Content-Type is JSON, as Confluent reads it
    )

    def may(operation: str, on_subject: bool = True) -> Any:
        """A route's dependency: ``operation`` on the path's subject, or on the cluster
        for the global settings (``/config``, and ``/config/`` whose empty subject the
        registry reads as the global one, as Confluent reads its default context)."""

        async def allowed(request: Request, who: Identity = identified) -> None:
            name = request.path_params["subject"] if on_subject else ""
            where = SUBJECT if name else CLUSTER
            access.check(who, operation, where, name or CLUSTER_NAME, "http", address(request))

        return Depends(allowed)

    def by_id_allowed(request: Request, who: Identity, schema_id: int) -> None:
        """Read on a subject holding the id (live, or the one it was first registered
        under), or describe on the cluster."""
        if access.allowed(who, "describe", CLUSTER, CLUSTER_NAME):
            return
        reg = registry()
        try:
            holders = {s for s, _ in reg.uses(schema_id)} | {reg.by_id(schema_id).subject}
        except errors.SchemaNotFoundError:
            holders = set()
        if any(access.allowed(who, "read", SUBJECT, s) for s in holders):
            return
        access.check(who, "describe", CLUSTER, CLUSTER_NAME, "http", address(request))

    def holders(schema_id: int, deleted: bool) -> list[tuple[str, int]]:
        """(subject, version) of the versions holding the id."""
        reg = registry()
        if not deleted:
            return reg.uses(schema_id)
        reg.by_id(schema_id)  # 40403 for an unknown id
        found = []
        for subject in reg.subjects(deleted=True):
            for number in reg.versions(subject, deleted=True):
                if reg.get(subject, number, deleted=True).id == schema_id:
                    found.append((subject, number))
        return found

    # --- schemas by id, types ---------------------------------------------------------

    @router.get("/schemas/types", response_model=list[str], responses=_errors())
    def types(who: Identity = identified) -> Response:
        """The schema types this server registers."""
        return RegistryResponse([t for t in registry().types() if _available(t)])

    @router.get("/schemas/ids/{id}", response_model=SchemaByIdOut, responses=_errors(404))
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
        return RegistryResponse(_described(schema, _formatted(reg, schema, format)))

    @router.get(
        "/schemas/ids/{id}/schema",
        responses={200: {"content": {MEDIA_TYPE: {"schema": {}}}}, **_errors(404)},
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
        return Response(_formatted(reg, schema, format), media_type=MEDIA_TYPE)

    @router.get("/schemas/ids/{id}/subjects", response_model=list[str], responses=_errors(404))
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
        found = sorted({s for s, _ in holders(id, deleted) if subject in (None, s)})
        shown = [s for s in found if access.allowed(who, "describe", SUBJECT, s)]
        return RegistryResponse(_page(shown, offset, limit))

    @router.get(
        "/schemas/ids/{id}/versions",
        response_model=list[SubjectVersionOut],
        responses=_errors(404),
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
            for s, v in holders(id, deleted)
            if subject in (None, s) and access.allowed(who, "describe", SUBJECT, s)
        ]
        return RegistryResponse(_page(found, offset, limit))

    # --- subjects -----------------------------------------------------------------

    @router.get("/subjects", response_model=list[str], responses=_errors())
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
        return RegistryResponse(_page(shown, offset, limit))

    @router.get(
        "/subjects/{subject:schema_subject}/versions/{version}/schema",
        responses={200: {"content": {MEDIA_TYPE: {"schema": {}}}}, **_errors(404)},
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
        return Response(_formatted(reg, schema, format), media_type=MEDIA_TYPE)

    @router.get(
        "/subjects/{subject:schema_subject}/versions/{version}/referencedby",
        response_model=list[int],
        responses=_errors(404),
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
        return RegistryResponse(_page(reg.referenced_by(subject, number), offset, limit))

    @router.get(
        "/subjects/{subject:schema_subject}/versions/{version}",
        response_model=SchemaOut,
        responses=_errors(404),
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
        return RegistryResponse(_version_out(schema, _formatted(reg, schema, format)))

    @router.get(
        "/subjects/{subject:schema_subject}/versions",
        response_model=list[int],
        responses=_errors(404),
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
        return RegistryResponse(_page(found, offset, limit))

    @router.post(
        "/subjects/{subject:schema_subject}/versions",
        response_model=RegisteredOut,
        responses=_errors(404, 409),
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
            subject, body.schema_, _schema_type(body.schemaType), _references(body), normalize
        )
        return RegistryResponse(
            _described(
                schema, _formatted(reg, schema, format), id=schema.id, version=schema.version
            )
        )

    @router.post(
        "/subjects/{subject:schema_subject}",
        response_model=SchemaOut,
        responses=_errors(404),
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
            _schema_type(body.schemaType),
            _references(body),
            normalize,
            deleted or lookupDeletedSchema,
        )
        return RegistryResponse(_version_out(schema, _formatted(reg, schema, format)))

    @router.delete(
        "/subjects/{subject:schema_subject}/versions/{version}",
        response_model=int,
        responses=_errors(404),
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
        responses=_errors(404),
        dependencies=[may("delete")],
    )
    def delete_subject(
        subject: str,
        permanent: bool = Query(False, description="remove a soft-deleted subject for good"),
    ) -> Response:
        """Soft-delete every version, or with ``permanent=true`` remove a soft-deleted
        subject; the versions deleted."""
        return RegistryResponse(registry().delete_subject(subject, permanent))

    # --- compatibility ----------------------------------------------------------------

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

    async def may_test(request: Request, who: Identity = identified) -> None:
        subject = request.path_params["subject"]
        asks = [("write", SUBJECT, subject), ("read", SUBJECT, subject)]
        access.check_any(who, asks, "http", address(request))

    @router.post(
        "/compatibility/subjects/{subject:schema_subject}/versions/{version}",
        response_model=CompatibilityOut,
        responses=_errors(404),
        dependencies=[Depends(may_test)],
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
        schema_type = _schema_type(body.schemaType)
        refs = _references(body)
        against: str | None = version
        if _latest(version):
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
        responses=_errors(),
        dependencies=[Depends(may_test)],
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
        schema_type = _schema_type(body.schemaType)
        refs = _references(body)

        def check() -> list[str]:
            return reg.check(subject, body.schema_, schema_type, refs, None, normalize)

        return compatibility_answer(check, verbose)

    # --- compatibility level and mode -------------------------------------------------

    @router.get(
        "/config",
        response_model=ConfigOut,
        responses=_errors(),
        dependencies=[may("describe_configs", on_subject=False)],
    )
    def get_global_config(defaultToGlobal: bool = False) -> Response:
        """The global compatibility level."""
        return RegistryResponse({"compatibilityLevel": registry().compatibility()})

    @router.put(
        "/config",
        response_model=ConfigSet,
        responses=_errors(),
        dependencies=[may("alter_configs", on_subject=False)],
    )
    def set_global_config(body: ConfigIn) -> Response:
        return RegistryResponse({"compatibility": registry().set_compatibility(body.compatibility)})

    @router.delete(
        "/config",
        response_model=ConfigOut,
        responses=_errors(),
        dependencies=[may("alter_configs", on_subject=False)],
    )
    def delete_global_config() -> Response:
        """Back to the default level (BACKWARD); the level it had."""
        return RegistryResponse({"compatibilityLevel": registry().delete_compatibility()})

    @router.get(
        "/config/{subject:schema_subject}",
        response_model=ConfigOut,
        responses=_errors(404),
        dependencies=[may("describe_configs")],
    )
    def get_config(
        subject: str,
        defaultToGlobal: bool = Query(False, description="the global level when it has none"),
    ) -> Response:
        """The subject's own level (40408 when it has none, unless defaultToGlobal)."""
        level = registry().compatibility(subject, default_to_global=defaultToGlobal)
        return RegistryResponse({"compatibilityLevel": level})

    @router.put(
        "/config/{subject:schema_subject}",
        response_model=ConfigSet,
        responses=_errors(),
        dependencies=[may("alter_configs")],
    )
    def set_config(subject: str, body: ConfigIn) -> Response:
        level = registry().set_compatibility(body.compatibility, subject)
        return RegistryResponse({"compatibility": level})

    @router.delete(
        "/config/{subject:schema_subject}",
        response_model=ConfigOut,
        responses=_errors(404),
        dependencies=[may("alter_configs")],
    )
    def delete_config(subject: str) -> Response:
        """The subject follows the global level again; the level it had."""
        return RegistryResponse({"compatibilityLevel": registry().delete_compatibility(subject)})

    @router.get(
        "/mode",
        response_model=ModeOut,
        responses=_errors(),
        dependencies=[may("describe_configs", on_subject=False)],
    )
    def get_global_mode(defaultToGlobal: bool = False) -> Response:
        return RegistryResponse({"mode": registry().mode()})

    @router.put(
        "/mode",
        response_model=ModeOut,
        responses=_errors(),
        dependencies=[may("alter_configs", on_subject=False)],
    )
    def set_global_mode(body: ModeIn, force: bool = False) -> Response:
        return RegistryResponse({"mode": registry().set_mode(body.mode)})

    @router.delete(
        "/mode",
        response_model=ModeOut,
        responses=_errors(),
        dependencies=[may("alter_configs", on_subject=False)],
    )
    def delete_global_mode() -> Response:
        """Back to READWRITE; the mode it had."""
        return RegistryResponse({"mode": registry().delete_mode("")})

    @router.get(
        "/mode/{subject:schema_subject}",
        response_model=ModeOut,
        responses=_errors(404),
        dependencies=[may("describe_configs")],
    )
    def get_mode(
        subject: str,
        defaultToGlobal: bool = Query(False, description="the global mode when it has none"),
    ) -> Response:
        """The subject's own mode (40409 when it has none, unless defaultToGlobal)."""
        return RegistryResponse({"mode": registry().mode(subject, defaultToGlobal)})

    @router.put(
        "/mode/{subject:schema_subject}",
        response_model=ModeOut,
        responses=_errors(),
        dependencies=[may("alter_configs")],
    )
    def set_mode(subject: str, body: ModeIn, force: bool = False) -> Response:
        return RegistryResponse({"mode": registry().set_mode(body.mode, subject)})

    @router.delete(
        "/mode/{subject:schema_subject}",
        response_model=ModeOut,
        responses=_errors(404),
        dependencies=[may("alter_configs")],
    )
    def delete_mode(subject: str) -> Response:
        """The subject follows the global mode again; the mode it had."""
        return RegistryResponse({"mode": registry().delete_mode(subject)})

    @router.api_route(
        "/{rest:schema_subject}", methods=[*SERVED, *UNSERVED], include_in_schema=False
    )
    def elsewhere(request: Request, rest: str) -> Response:
        """Nothing here: in Confluent's shape (the clients read its code), not the app's."""
        if request.method in SERVED:
            return RegistryResponse({"error_code": 404, "message": "HTTP 404 Not Found"}, 404)
        allow = {"Allow": ", ".join(SERVED)}
        return RegistryResponse(
            {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}, 405, allow
        )

    return router
