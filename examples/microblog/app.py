"""The live microblog: post an article in one tab, it appears in every open tab.

Articles are Protobuf records (``microblog.v1.Article``) on the one-partition topic
``articles``: the log is the system of record and its order is the timeline.
``ListArticles`` replays the topic from its first offset and then pushes each new
article the moment it is appended. Run it with ``make run`` or
``logway serve --app examples.microblog.app:app``.

``proto/microblog/v1/article.proto`` is the articles' contract, kept in the schema
registry: when the service starts it registers the file's text (PROTOBUF) under the
subject ``articles-value``, and the topic is created with ``value_schema`` set to it,
so every door (this service, the HTTP and gRPC APIs, the Kafka port) refuses a value
that is not an article in the registry's wire format (a zero byte, the schema id, the
message indexes, then the message). Changing the file is checked against the versions
already registered (``BACKWARD`` unless the subject's or the registry's compatibility
level says otherwise): a new field is a new version, a breaking change (a field's
type changed, say) is refused and ``logway serve`` stops with the reason. Readers
skip the frame; values written before the microblog registered its schema (raw
``Article`` bytes) are read as they are. A topic created by such an older microblog
keeps no ``value_schema`` (an existing topic is not changed): new articles are still
written in the wire format under ``articles-value`` (the subject the topic's name
gives), but other writers are not held to it there.

Under ``logway serve --auth`` the page signs in (a session cookie) and the service asks
the server's ``Access`` who is calling: reading needs ``read`` on ``articles``, posting
``write``, and a signed-in author posts under their own name. With ACLs such as
``--allow Group:authors -o write --topic articles`` and ``--allow 'User:*' -o read
--topic articles``, members of ``authors`` post and everyone else reads.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the generated microblog.v1

from microblog.v1 import article_pb2 as pb
from microblog.v1 import article_pb2_grpc

import logway
from logway.app import App
from logway.errors import AuthenticationError, PermissionDeniedError
from logway.records import Record
from logway.schemas.model import Schema
from logway.server.access import Access, Identity

TOPIC = "articles"
SUBJECT = f"{TOPIC}-value"  # Confluent's TopicNameStrategy: a topic without the setting agrees
ARTICLE_PROTO = Path(__file__).resolve().parent / "proto" / "microblog" / "v1" / "article.proto"
MAX_TITLE = 200
MAX_CONTENT = 10_000
MAX_AUTHOR = 100


def validate(request: pb.CreateArticleRequest) -> str | None:
    """The reason an article is refused, or None."""
    if not request.title.strip():
        return "an article needs a title"
    if len(request.title) > MAX_TITLE:
        return f"the title is {len(request.title)} characters; the limit is {MAX_TITLE}"
    if len(request.content) > MAX_CONTENT:
        return f"the content is {len(request.content)} characters; the limit is {MAX_CONTENT}"
    if not request.author.strip():
        return "an article needs an author"
    if len(request.author) > MAX_AUTHOR:
        return f"the author is {len(request.author)} characters; the limit is {MAX_AUTHOR}"
    return None


def register_schema(broker: logway.Broker) -> Schema:
    """article.proto as a version of ``SUBJECT``: the one registered already when the
    registry holds this file (as text or as the generated code's descriptor), else a
    new version if compatible; ``IncompatibleSchemaError`` lists what a breaking change
    would break."""
    schema: Schema = broker.schemas.register(SUBJECT, ARTICLE_PROTO.read_text(), "PROTOBUF")
    return schema


def article_of(record: Record) -> pb.Article | None:
    """The record's article: its value in the wire format (of any version of
    ``SUBJECT``: fields this code does not know are kept as unknown fields) or raw, as
    written before the schema was registered; None for a value that is no article."""
    try:
        article: pb.Article = record.decode(pb.Article)
    except Exception:  # not an article: someone wrote to a topic without the setting
        return None
    return article


class MicroblogService(article_pb2_grpc.MicroblogServicer):
    def __init__(self, broker: logway.Broker, access: Access | None = None):
        self.broker = broker
        self.access = access or Access(broker)
        self.schema = register_schema(broker)  # at start: a breaking change stops here

    async def _caller(self, context: Any, operation: str) -> Identity:
        """Who calls, if they may ``operation`` the articles; else the call ends with
        UNAUTHENTICATED or PERMISSION_DENIED and a message for the page."""
        try:
            who = await self.access.caller(context)
            self.access.check(who, operation, "topic", TOPIC, "microblog", context.peer())
            return who
        except AuthenticationError:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "sign in to read and post")
        except PermissionDeniedError:
            if operation == "write" and self.access.allowed(who, "read", "topic", TOPIC):
                message = f"{who.name}, you may read but not post: ask to join the authors"
            else:
                message = f"{who.name}, you may not {operation} the articles"
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)
        raise AssertionError("unreachable: abort raises")

    async def CreateArticle(self, request: pb.CreateArticleRequest, context: Any) -> pb.Article:
        who = await self._caller(context, "write")
        signed_in = who.via not in ("open", "anonymous")
        if signed_in:  # a signed-in author posts under their own name
            request.author = who.name
        problem = validate(request)
        if problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        article = pb.Article(
            id=uuid.uuid4().hex,
            title=request.title.strip(),
            content=request.content,
            author=request.author.strip(),
            created_at=int(time.time() * 1000),
        )
        # in the wire format, framed with the id of the registered article.proto
        self.broker.produce(TOPIC, article, key=article.id, timestamp=article.created_at)
        return article

    async def ListArticles(  # type: ignore[override]
        self, request: pb.ListArticlesRequest, context: Any
    ) -> None:
        await self._caller(context, "read")
        consumer = self.broker.consumer(TOPIC, start="earliest", auto_reset=False)
        try:
            while True:
                for record in await consumer.apoll(timeout=15.0, max_records=500):
                    article = article_of(record)
                    if article is not None:
                        await context.write(article)  # unknown fields included
        finally:
            consumer.close()


app = App("microblog")
app.topic(TOPIC, partitions=1, value_schema=SUBJECT)  # the schema: MicroblogService
app.service(article_pb2_grpc.add_MicroblogServicer_to_server, MicroblogService)
app.static("/", "static")
