"""The HTTP front door: a small REST API (with its OpenAPI document at
``/openapi.json``), Server-Sent Events streams, and gRPC-Web for the gRPC services.

SSE events carry each record as JSON; an event's ``id`` is the stream's position
after that record: ``partition:offset`` of the last record sent on each partition,
comma-separated (``0:41`` on a one-partition topic). A browser reconnecting with
``Last-Event-ID`` resumes exactly after it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from logway import errors
from logway.broker import Broker
from logway.records import Message
from logway.server.access import Access
from logway.server.fanout import Hub
from logway.server.grpc_web import PREFLIGHT_HEADERS, GrpcWebBridge
from logway.server.sse import EventStreamResponse, parse_event_id, record_json, sse_events

HTTP_STATUS: dict[type[errors.LogwayError], int] = {
    errors.UnknownTopicError: 404,
    errors.UnknownGroupError: 404,
    errors.TopicExistsError: 409,
    errors.OffsetOutOfRangeError: 416,
    errors.InvalidArgumentError: 400,
    errors.CorruptRecordError: 500,
    errors.StorageError: 503,
    errors.ClosedError: 503,
    errors.ServerStoppingError: 503,
}
SSE_HEARTBEAT_S = 15.0


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


class ErrorOut(BaseModel):
    error: str
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 404, 409, 416)
}


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
) -> FastAPI:
    """``drop_client(scope["client"])`` closes a client's connection at once (the
    server running the app provides it); ``grpc_target`` is named on the index page."""
    fanout = hub or Hub(broker)
    access = access or Access(broker)
    app = FastAPI(
        title="logway",
        version="1",
        description="The log over HTTP: topics, records, consumer-group lag, and live "
        "Server-Sent Events streams. gRPC-Web for the gRPC services shares this port.",
    )

    @app.exception_handler(errors.LogwayError)
    async def logway_error(request: Request, exc: errors.LogwayError) -> JSONResponse:
        status = next((HTTP_STATUS[c] for c in type(exc).__mro__ if c in HTTP_STATUS), 500)
        return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status_code=status)

    @app.get("/v1/topics", response_model=TopicList)
    def list_topics() -> TopicList:
        return TopicList(topics=broker.list_topics())

    @app.post("/v1/topics", status_code=201, response_model=TopicOut, responses=ERRORS)
    def create_topic(body: TopicIn) -> TopicOut:
        info = broker.create_topic(body.name, body.partitions, **body.config)
        return TopicOut(name=info.name, partitions=info.partitions, config=info.config)

    @app.get("/v1/topics/{topic}", response_model=TopicOut, responses=ERRORS)
    def describe_topic(topic: str) -> TopicOut:
        info = broker.describe_topic(topic)
        return TopicOut(
            name=info.name,
            partitions=info.partitions,
            config=info.config,
            start_offsets=broker.start_offsets(topic),
            end_offsets=broker.end_offsets(topic),
        )

    @app.delete("/v1/topics/{topic}", status_code=204, responses=ERRORS)
    def delete_topic(topic: str) -> Response:
        broker.delete_topic(topic)
        return Response(status_code=204)

    @app.post("/v1/topics/{topic}/records", response_model=ProduceOut, responses=ERRORS)
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

    @app.get(
        "/v1/topics/{topic}/partitions/{partition}/records",
        response_model=FetchOut,
        responses=ERRORS,
    )
    def fetch(
        topic: str,
        partition: int,
        offset: int = Query(0, ge=0),
        max_records: int = Query(100, ge=1, le=10_000),
    ) -> FetchOut:
        records = broker.fetch(topic, partition, offset, max_records=max_records)
        return FetchOut(records=[RecordOut(**record_json(r)) for r in records])

    @app.get("/v1/groups", response_model=GroupList)
    def list_groups() -> GroupList:
        return GroupList(groups=broker.list_groups())

    @app.get("/v1/groups/{group}/lag", response_model=GroupLag, responses=ERRORS)
    def lag(group: str, topic: str | None = None) -> GroupLag:
        return GroupLag(
            group=group, partitions=[LagOut(**x._asdict()) for x in broker.lag(group, topic)]
        )

    @app.get(
        "/v1/topics/{topic}/stream",
        responses={
            **ERRORS,
            200: {
                "content": {"text/event-stream": {}},
                "description": "Server-Sent Events: one `record` event per record",
            },
        },
    )
    async def stream(
        request: Request,
        topic: str,
        start: Literal["earliest", "latest"] = Query("earliest", alias="from"),
        partition: int | None = Query(None, ge=0),
        offset: int | None = Query(None, ge=0),
    ) -> StreamingResponse:
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
        client = request.scope.get("client")
        return EventStreamResponse(
            sse_events(fanout.subscribe(topic, positions), cursor, broker),
            stall_timeout=stall_timeout,
            drop=None if drop_client is None else lambda: drop_client(client),
        )

    if bridge is not None:

        async def grpc_web(request: Request) -> Response:
            return await bridge(request)

        for path in bridge.methods:
            app.add_route(path, grpc_web, methods=["POST", "OPTIONS"], include_in_schema=False)

    if metrics is not None:
        render = metrics

        @app.get("/metrics", include_in_schema=False)
        def prometheus() -> Response:
            """The server's figures for Prometheus."""
            return Response(render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.options("/v1/{rest:path}", include_in_schema=False)
    def preflight(rest: str) -> Response:
        return Response(status_code=204, headers=PREFLIGHT_HEADERS)

    if not any(path.rstrip("/") == "" for path, _ in statics or []):
        page = _index_page(grpc_target, metrics is not None, kafka_target)

        @app.get("/", include_in_schema=False)
        def index() -> Response:
            """What this server offers, for a person who opens its address."""
            return Response(page, media_type="text/html; charset=utf-8")

    for path, directory in statics or []:  # last: the API's routes come first
        app.mount(path, StaticFiles(directory=directory, html=True), name=f"static:{path}")

    return app


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
