"""The HTTP front door: a small REST API (with its OpenAPI document at
``/openapi.json``), Server-Sent Events streams, and gRPC-Web for the gRPC services.

SSE events carry each record as JSON; an event's ``id`` is the stream's position
after that record: ``partition:offset`` of the last record sent on each partition,
comma-separated (``0:41`` on a one-partition topic). A browser reconnecting with
``Last-Event-ID`` resumes exactly after it.

With ``logway serve --auth`` every route that touches the log asks ``Access`` first,
for the same operations as the gRPC door (Kafka's ACL model): create a topic needs
``create`` on the cluster or the topic; describe, delete, produce and fetch need
``describe``, ``delete``, ``write`` and ``read`` on the topic; a stream ``read`` on it;
lag ``describe`` on the group; ``/metrics`` ``describe`` on the cluster; the lists show
what the caller may describe. The caller is an ``Authorization`` header (``Bearer lw_…``
or ``Basic``) or a browser's session cookie (``/auth/login``; ``logway.server.sessions``
has the cookie and CSRF rules). 401 (with ``WWW-Authenticate``) when credentials prove
nothing, 403 when they are not allowed, both as ``{"error", "message"}``. The index
page, ``/openapi.json``, ``/docs`` and an app's static pages stay public: they carry
no data.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.openapi.models import APIKey, HTTPBase, HTTPBearer
from fastapi.openapi.models import SecurityBase as SecurityModel
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security.base import SecurityBase
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from logway import errors
from logway.auth.acls import CLUSTER_NAME
from logway.broker import Broker
from logway.records import Message
from logway.server.access import Access, Identity
from logway.server.fanout import Hub
from logway.server.grpc_web import PREFLIGHT_HEADERS, GrpcWebBridge
from logway.server.schema_registry import schema_registry_router
from logway.server.sessions import (
    SESSION_COOKIE,
    HttpAuth,
    Session,
    Sessions,
    address,
    challenge,
    clear_cookie,
    set_cookie,
)
from logway.server.sse import EventStreamResponse, parse_event_id, record_json, sse_events

HTTP_STATUS: dict[type[errors.LogwayError], int] = {
    errors.UnknownTopicError: 404,
    errors.UnknownGroupError: 404,
    errors.TopicExistsError: 409,
    errors.DeliveryExpiredError: 409,  # the record went back to the queue meanwhile
    errors.OffsetOutOfRangeError: 416,
    errors.InvalidArgumentError: 400,
    errors.CorruptRecordError: 500,
    errors.StorageError: 503,
    errors.ClosedError: 503,
    errors.ServerStoppingError: 503,
    errors.AuthenticationError: 401,
    errors.PermissionDeniedError: 403,
}
SSE_HEARTBEAT_S = 15.0
TOPIC, GROUP, CLUSTER = "topic", "group", "cluster"


class TopicIn(BaseModel):
    model_config = ConfigDict(regex_engine="python-re")  # the name pattern looks ahead

    name: str = Field(
        description="Kafka's rules: letters, digits, '.', '_', '-'; at most 249; not . or ..",
        pattern=r"^(?!\.\.?$)[a-zA-Z0-9._-]{1,249}$",
    )
    partitions: int = Field(1, ge=1, le=10_000)
    config: dict[str, str | int] = Field(default_factory=dict, description="e.g. retention_ms: 7d")


class TopicOut(BaseModel):
    name: str
    partitions: int
    config: dict[str, Any]
    start_offsets: dict[int, int] = Field(default_factory=dict)
    end_offsets: dict[int, int] = Field(default_factory=dict)


class TopicList(BaseModel):
    topics: list[str]


class RecordIn(BaseModel):
    value: str | None = Field(None, description="text, or base64 when encoding is base64")
    key: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    partition: int | None = Field(None, ge=0)
    timestamp: int | None = Field(None, ge=0, description="milliseconds since the epoch")


class ProduceIn(BaseModel):
    records: list[RecordIn] = Field(min_length=1, max_length=10_000)
    encoding: Literal["utf-8", "base64"] = "utf-8"


class Produced(BaseModel):
    partition: int
    offset: int
    timestamp: int


class ProduceOut(BaseModel):
    records: list[Produced]


class RecordOut(BaseModel):
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: str | None
    value: str | None
    headers: list[tuple[str, str | None]]
    encoding: Literal["utf-8", "base64"]


class FetchOut(BaseModel):
    records: list[RecordOut]


class LagOut(BaseModel):
    topic: str
    partition: int
    committed: int | None
    end_offset: int
    lag: int


class GroupLag(BaseModel):
    group: str
    partitions: list[LagOut]


class GroupList(BaseModel):
    groups: list[str]


class QueueSettingsIn(BaseModel):
    visibility_timeout: str | int | None = Field(
        None, description="how long a delivery is held: '30s' (default), or milliseconds"
    )
    max_receives: int | None = Field(
        None, ge=1, description="deliveries before the dead-letter topic (5)"
    )
    dead_letter: str | None = Field(None, description="the dead-letter topic (TOPIC-dlq)")
    start: Literal["earliest", "latest"] | None = None

    def keywords(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


def _queue_keywords(settings: QueueSettingsIn | None) -> dict[str, Any]:
    return {} if settings is None else settings.keywords()


class ReceiveIn(BaseModel):
    max_records: int = Field(1, ge=1, le=10_000)
    wait_ms: int = Field(0, ge=0, le=20_000, description="how long to wait for a first record")
    consumer: str | None = Field(None, description="who holds the deliveries (the caller)")
    settings: QueueSettingsIn | None = Field(
        None, description="apply when the server first opens the queue; others are refused"
    )


class DeliveryOut(BaseModel):
    record: RecordOut
    delivery_count: int
    receipt: int


class ReceiveOut(BaseModel):
    deliveries: list[DeliveryOut]


class SettleIn(BaseModel):
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    receipt: int


class AckIn(BaseModel):
    action: Literal["ack", "release", "reject"] = "ack"
    deliveries: list[SettleIn] = Field(max_length=10_000)
    reason: str = Field("", description="reject: the reason in the dead-letter record")
    settings: QueueSettingsIn | None = None


class ErrorOut(BaseModel):
    error: str
    message: str


class LoginIn(BaseModel):
    user: str = Field(description="the user's name")
    password: str


class MeOut(BaseModel):
    principal: str = Field(description="User:NAME (User:ANONYMOUS without credentials)")
    user: str
    groups: list[str]
    via: str = Field(description="open (no --auth), anonymous, token, password or session")
    csrf_token: str | None = Field(
        None,
        description="with a session: send it as the X-Logway-CSRF header of every request "
        "other than GET/HEAD/OPTIONS made with the session cookie",
    )
    expires: int | None = Field(None, description="when the session ends, ms since the epoch")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 404, 409, 416)
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorOut,
        "description": "no credentials, or credentials that prove nothing (logway serve --auth)",
        "headers": {
            "WWW-Authenticate": {
                "description": "the schemes to authenticate with",
                "schema": {"type": "string"},
            }
        },
    },
    403: {
        "model": ErrorOut,
        "description": "the caller may not do this (an ACL), or a request made with the "
        "session cookie lacks its X-Logway-CSRF header",
    },
}


class _Scheme(SecurityBase):
    """A way to authenticate, named in the OpenAPI document; ``HttpAuth`` does the work."""

    def __init__(self, name: str, model: SecurityModel) -> None:
        self.scheme_name = name
        self.model = model

    async def __call__(self) -> None:
        return None


SCHEMES = (
    _Scheme(
        "token",
        HTTPBearer(
            bearerFormat="lw_…",
            description="an API token (logway tokens create); with logway serve --auth",
        ),
    ),
    _Scheme("password", HTTPBase(scheme="basic", description="a user's name and password")),
    _Scheme(
        "session",
        APIKey.model_validate(
            {
                "in": "cookie",
                "name": SESSION_COOKIE,
                "description": "set by POST /auth/login; requests other than GET/HEAD/"
                "OPTIONS made with it also need the header X-Logway-CSRF (GET /auth/me)",
            }
        ),
    ),
)


async def _caller(
    request: Request,
    _token: Annotated[None, Depends(SCHEMES[0])],
    _password: Annotated[None, Depends(SCHEMES[1])],
    _session: Annotated[None, Depends(SCHEMES[2])],
) -> Identity:
    """Who sent the request (``HttpAuth.identify``); the schemes are for the document."""
    http_auth: HttpAuth = request.app.state.http_auth
    return await http_auth.identify(request)


Caller = Annotated[Identity, Depends(_caller)]  # evaluated once per request


def allow(operation: str, resource_type: str, param: str | None = None, door: str = "http") -> Any:
    """A route's dependency: the caller must be allowed ``operation`` on the resource
    the path parameter ``param`` names (the cluster when None). It runs before the route
    touches the log, and before the body is looked at; ``door`` is for the audit trail."""

    async def allowed(request: Request, who: Caller) -> None:
        access: Access = request.app.state.access
        name = CLUSTER_NAME if param is None else request.path_params[param]
        access.check(who, operation, resource_type, name, door, address(request))

    return Depends(allowed)


async def _may_create(request: Request, body: TopicIn, who: Caller) -> None:
    """As Kafka's CreateTopics: create on the cluster, or on the topic."""
    access: Access = request.app.state.access
    asks = [("create", CLUSTER, CLUSTER_NAME), ("create", TOPIC, body.name)]
    access.check_any(who, asks, "http", address(request))


def build_app(
    broker: Broker,
    bridge: GrpcWebBridge | None = None,
    stall_timeout: float = 30.0,
    statics: list[tuple[str, str]] | None = None,
    hub: Hub | None = None,
    drop_client: Callable[[Any], None] | None = None,
    metrics: Callable[[], str] | None = None,
    grpc_target: str | None = None,
    kafka_target: str | None = None,
    access: Access | None = None,
    sessions: Sessions | None = None,
) -> FastAPI:
    """``drop_client(scope["client"])`` closes a client's connection at once (the
    server running the app provides it); ``grpc_target`` is named on the index page.
    The app checks callers with ``access`` and keeps browsers' ``sessions``; it also
    lets ``bridge`` (gRPC-Web) take a session cookie as its caller."""
    fanout = hub or Hub(broker)
    access = access or Access(broker)
    sessions = sessions or Sessions(access)
    http_auth = HttpAuth(access, sessions)
    if bridge is not None:
        bridge.identify = http_auth.web_identity
    app = FastAPI(
        title="logway",
        version="1",
        description="The log over HTTP: topics, records, consumer-group lag, and live "
        "Server-Sent Events streams. gRPC-Web for the gRPC services shares this port. "
        "With `logway serve --auth`, authenticate with an API token "
        "(`Authorization: Bearer lw_…`), a user's password (Basic), or the session "
        "cookie `POST /auth/login` sets (then send `X-Logway-CSRF` with every request "
        "other than GET); ACLs decide what each caller may do.",
    )
    if not access.enabled:
        app.openapi = _without_auth(app.openapi)  # type: ignore[method-assign]
    app.state.access = access  # for the dependencies that check callers
    app.state.http_auth = http_auth
    api = APIRouter(responses=AUTH_ERRORS)  # every route under /v1 asks Access first

    @app.exception_handler(errors.LogwayError)
    async def logway_error(request: Request, exc: errors.LogwayError) -> JSONResponse:
        status = next((HTTP_STATUS[c] for c in type(exc).__mro__ if c in HTTP_STATUS), 500)
        headers = {"WWW-Authenticate": challenge(request)} if status == 401 else None
        return JSONResponse(
            {"error": type(exc).__name__, "message": str(exc)}, status_code=status, headers=headers
        )

    @api.get("/v1/topics", response_model=TopicList)
    def list_topics(who: Caller) -> TopicList:
        """The topics the caller may describe."""
        names = broker.list_topics()
        return TopicList(topics=[n for n in names if access.allowed(who, "describe", TOPIC, n)])

    @api.post(
        "/v1/topics",
        status_code=201,
        response_model=TopicOut,
        responses=ERRORS,
        dependencies=[Depends(_may_create)],
    )
    def create_topic(body: TopicIn) -> TopicOut:
        info = broker.create_topic(body.name, body.partitions, **body.config)
        return TopicOut(name=info.name, partitions=info.partitions, config=info.config)

    @api.get(
        "/v1/topics/{topic}",
        response_model=TopicOut,
        responses=ERRORS,
        dependencies=[allow("describe", TOPIC, "topic")],
    )
    def describe_topic(topic: str) -> TopicOut:
        info = broker.describe_topic(topic)
        return TopicOut(
            name=info.name,
            partitions=info.partitions,
            config=info.config,
            start_offsets=broker.start_offsets(topic),
            end_offsets=broker.end_offsets(topic),
        )

    @api.delete(
        "/v1/topics/{topic}",
        status_code=204,
        responses=ERRORS,
        dependencies=[allow("delete", TOPIC, "topic")],
    )
    def delete_topic(topic: str) -> Response:
        broker.delete_topic(topic)
        return Response(status_code=204)

    @api.post(
        "/v1/topics/{topic}/records",
        response_model=ProduceOut,
        responses=ERRORS,
        dependencies=[allow("write", TOPIC, "topic")],
    )
    def produce(topic: str, body: ProduceIn) -> ProduceOut:
        def raw(text: str | None) -> bytes | None:
            if text is None:
                return None
            if body.encoding == "base64":
                try:
                    return base64.b64decode(text, validate=True)
                except ValueError:
                    raise errors.InvalidArgumentError(f"{text[:40]!r} is not base64") from None
            return text.encode()

        items = [
            Message(
                raw(r.value),
                raw(r.key),
                {k: raw(v) for k, v in r.headers.items()},
                r.partition,
                r.timestamp,
            )
            for r in body.records
        ]
        produced = broker.produce_many(topic, items)
        return ProduceOut(
            records=[
                Produced(partition=m.partition, offset=m.offset, timestamp=m.timestamp)
                for m in produced
            ]
        )

    @api.get(
        "/v1/topics/{topic}/partitions/{partition}/records",
        response_model=FetchOut,
        responses=ERRORS,
        dependencies=[allow("read", TOPIC, "topic")],
    )
    def fetch(
        topic: str,
        partition: int,
        offset: int = Query(0, ge=0),
        max_records: int = Query(100, ge=1, le=10_000),
    ) -> FetchOut:
        records = broker.fetch(topic, partition, offset, max_records=max_records)
        return FetchOut(records=[RecordOut(**record_json(r)) for r in records])

    @api.get("/v1/groups", response_model=GroupList)
    def list_groups(who: Caller) -> GroupList:
        """The consumer groups the caller may describe."""
        groups = broker.list_groups()
        return GroupList(groups=[g for g in groups if access.allowed(who, "describe", GROUP, g)])

    @api.get(
        "/v1/groups/{group}/lag",
        response_model=GroupLag,
        responses=ERRORS,
        dependencies=[allow("describe", GROUP, "group")],
    )
    def lag(group: str, topic: str | None = None) -> GroupLag:
        return GroupLag(
            group=group, partitions=[LagOut(**x._asdict()) for x in broker.lag(group, topic)]
        )

    @api.post(
        "/v1/queues/{topic}/{group}/receive",
        response_model=ReceiveOut,
        responses=ERRORS,
        dependencies=[allow("read", TOPIC, "topic"), allow("read", GROUP, "group")],
    )
    def receive(topic: str, group: str, body: ReceiveIn, request: Request) -> ReceiveOut:
        """Records of the queue ``group`` over ``topic`` (``broker.queue``), each held
        by this consumer until acked or its visibility timeout passes."""
        queue = broker.queue(topic, group, **_queue_keywords(body.settings))
        holder = body.consumer or f"http:{address(request)}"
        got = queue.shared.receive(holder, queue, body.max_records, body.wait_ms / 1000)
        return ReceiveOut(
            deliveries=[
                DeliveryOut(
                    record=RecordOut(**record_json(d.record)),
                    delivery_count=d.delivery_count,
                    receipt=d.receipt,
                )
                for d in got
            ]
        )

    @api.post(
        "/v1/queues/{topic}/{group}/ack",
        status_code=204,
        responses=ERRORS,
        dependencies=[allow("read", TOPIC, "topic"), allow("read", GROUP, "group")],
    )
    def ack(topic: str, group: str, body: AckIn) -> Response:
        """Settle deliveries, all or nothing: 409 when one is no longer held under its
        receipt (its visibility timeout passed, or it was settled already)."""
        queue = broker.queue(topic, group, **_queue_keywords(body.settings))
        items = [(d.partition, d.offset, d.receipt) for d in body.deliveries]
        queue.shared.settle(items, body.action, body.reason)
        return Response(status_code=204)

    @api.get(
        "/v1/topics/{topic}/stream",
        dependencies=[allow("read", TOPIC, "topic", door="sse")],
        responses={
            **ERRORS,
            200: {
                "content": {"text/event-stream": {}},
                "description": "Server-Sent Events: one `record` event per record; a last "
                "`error` event says why a stream ended (say, its read permission was "
                "taken away), a last `stopping` event that the server stops",
            },
        },
    )
    async def stream(
        request: Request,
        topic: str,
        who: Caller,
        start: Literal["earliest", "latest"] = Query("earliest", alias="from"),
        partition: int | None = Query(None, ge=0),
        offset: int | None = Query(None, ge=0),
    ) -> StreamingResponse:
        """A browser's ``EventSource`` sends no headers: it is authenticated by the
        session cookie (other clients may send ``Authorization``). The stream ends
        with an ``error`` event when its read permission, its token or its session goes."""
        count = broker.describe_topic(topic).partitions
        numbers = [partition] if partition is not None else list(range(count))
        if partition is not None and partition >= count:
            raise errors.UnknownTopicError(f"topic {topic!r} has no partition {partition}")
        resume = {}
        if request.headers.get("last-event-id"):
            resume = parse_event_id(request.headers["last-event-id"])
        elif offset is not None:
            resume = {p: offset for p in numbers}
        resume = {p: o for p, o in resume.items() if p in numbers}
        positions = fanout.positions(topic, numbers, start, resume)
        cursor = {p: o - 1 for p, o in resume.items()}
        subscription = fanout.subscribe(topic, positions)
        releases = [access.hold(who, [("read", TOPIC, topic)], subscription.revoke)]
        session: Session | None = getattr(request.state, "session", None)
        if session is not None:  # signing out ends it too
            releases.append(sessions.watch(session, subscription.revoke))

        def closed() -> None:
            for release in releases:
                release()
            subscription.close()

        client = request.scope.get("client")
        return EventStreamResponse(
            sse_events(subscription, cursor, broker),
            stall_timeout=stall_timeout,
            drop=None if drop_client is None else lambda: drop_client(client),
            closed=closed,
        )

    app.include_router(api)
    # Confluent Schema Registry's API: SchemaRegistryClient({"url": ".../schemas"})
    app.include_router(schema_registry_router(broker, access, _caller), prefix="/schemas")

    # --- browser sign-in ----------------------------------------------------------------

    def me(who: Identity, session: Session | None) -> JSONResponse:
        store = access.store
        groups = who.claims or (store.groups_of(who.principal) if store is not None else ())
        out = MeOut(
            principal=who.principal,
            user=who.name,
            groups=sorted(groups),
            via=who.via,
            csrf_token=session.csrf if session is not None else None,
            expires=session.expires_ms if session is not None else None,
        )
        return JSONResponse(out.model_dump(), headers={"cache-control": "no-store"})

    @app.post(
        "/auth/login",
        response_model=MeOut,
        responses={400: {"model": ErrorOut}, **AUTH_ERRORS},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    kind: {"schema": LoginIn.model_json_schema()}
                    for kind in ("application/json", "application/x-www-form-urlencoded")
                },
            }
        },
    )
    async def login(request: Request) -> JSONResponse:
        """Sign in with a user's name and password (JSON or an HTML form: ``user``,
        ``password``): sets the session cookie (HttpOnly, SameSite=Strict, Secure over
        https) and returns the caller with the CSRF token to send as ``X-Logway-CSRF``.
        Refused from another site's page (``Sec-Fetch-Site: cross-site``: login CSRF)."""
        cookie, session = await http_auth.sign_in(request)
        response = me(session.identity, session)
        set_cookie(response, request, cookie, sessions.ttl_ms // 1000)
        return response

    @app.post("/auth/logout", status_code=204, responses={403: AUTH_ERRORS[403]})
    async def logout(request: Request) -> Response:
        """Sign out: the session ends (and the streams it opened), the cookie is
        cleared. With a live session it needs ``X-Logway-CSRF``, as every POST does."""
        http_auth.sign_out(request)
        response = Response(status_code=204, headers={"cache-control": "no-store"})
        clear_cookie(response, request)
        return response

    @app.get("/auth/me", response_model=MeOut, responses=AUTH_ERRORS)
    async def whoami(request: Request, who: Caller) -> JSONResponse:
        """The caller: principal, groups, how it authenticated; with a session, its
        CSRF token and when it ends."""
        return me(who, getattr(request.state, "session", None))

    # --- the rest: gRPC-Web, metrics, pages -------------------------------------------

    if bridge is not None:

        async def grpc_web(request: Request) -> Response:
            return await bridge(request)

        for path in bridge.methods:
            app.add_route(path, grpc_web, methods=["POST", "OPTIONS"], include_in_schema=False)

    if metrics is not None:
        render = metrics

        @app.get("/metrics", include_in_schema=False, dependencies=[allow("describe", CLUSTER)])
        def prometheus() -> Response:
            """The server's figures for Prometheus; with --auth the scraper needs
            ``describe`` on the cluster (see ``logway.server.metrics``)."""
            return Response(render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.options("/v1/{rest:path}", include_in_schema=False)
    def preflight(rest: str) -> Response:
        return Response(status_code=204, headers=PREFLIGHT_HEADERS)

    if not any(path.rstrip("/") == "" for path, _ in statics or []):
        page = _index_page(grpc_target, metrics is not None, kafka_target)

        @app.get("/", include_in_schema=False)
        def index() -> Response:
            """What this server offers, for a person who opens its address (public: it
            names the doors and holds no data)."""
            return Response(page, media_type="text/html; charset=utf-8")

    for path, directory in statics or []:  # last: the API's routes come first
        # an app's pages are public: the data they show comes through the routes above
        app.mount(path, StaticFiles(directory=directory, html=True), name=f"static:{path}")

    return app


def _without_auth(generate: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """The document of a server without --auth: it asks for no credentials and never
    answers 401 or 403, so it names neither."""

    def document() -> dict[str, Any]:
        doc = generate()  # FastAPI makes it once and keeps it: this is idempotent
        doc.get("components", {}).pop("securitySchemes", None)
        for operations in doc["paths"].values():
            for operation in operations.values():
                operation.pop("security", None)
                for status in ("401", "403"):
                    operation.get("responses", {}).pop(status, None)
        return doc

    return document


def _index_page(grpc_target: str | None, metrics: bool, kafka_target: str | None = None) -> str:
    rows = [
        (
            "REST API",
            '<a href="/v1/topics">/v1/topics</a>, /v1/topics/{topic}/records, '
            "/v1/groups/{group}/lag",
        ),
        (
            "OpenAPI",
            '<a href="/openapi.json">/openapi.json</a> (try it: <a href="/docs">/docs</a>)',
        ),
        ("Server-Sent Events", "/v1/topics/{topic}/stream?from=earliest|latest"),
        ("gRPC-Web", "POST /logway.v1.Log/{Method} on this port"),
        ("Sign-in (logway serve --auth)", "POST /auth/login, POST /auth/logout, GET /auth/me"),
    ]
    if grpc_target:
        rows.append(
            (
                "gRPC",
                f"{html.escape(grpc_target)} (logway.v1.Log; logway://{html.escape(grpc_target)})",
            )
        )
    if kafka_target:
        rows.append(("Kafka protocol", f"{html.escape(kafka_target)} (bootstrap.servers)"))
    if metrics:
        rows.append(("Prometheus metrics", '<a href="/metrics">/metrics</a>'))
    body = "".join(f"<tr><th>{name}</th><td>{where}</td></tr>" for name, where in rows)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>logway</title>'
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
        "</style></head><body><h1>logway</h1><p>This server serves the log; its doors:</p>"
        f"<table>{body}</table></body></html>"
    )
