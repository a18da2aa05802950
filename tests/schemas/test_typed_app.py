"""``App.topic(name, value=Message)``: the topic gets ``value_schema``, the message's
file is registered when the app starts, and the app's functions receive decoded
messages, filter on their fields, and send a value that does not decode to
``on_failure`` as it was stored."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import logway
from logway.errors import IncompatibleSchemaError, InvalidArgumentError
from logway.functions.batch import Batch
from tests.conformance.test_functions import FAST_RETRY, committed, run_app

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "microblog"))
from microblog.v1 import article_pb2 as pb


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[logway.Broker]:
    with logway.connect(f"file:{tmp_path}/data") as b:
        yield b


def test_functions_receive_decoded_messages_and_filter_on_their_fields(
    broker: logway.Broker,
) -> None:
    app = logway.App("blog")
    seen: list[pb.Article] = []

    @app.function(
        "articles", starting_position="earliest", filters=[{"value": {"author": ["ada"]}}]
    )
    def index(batch: Batch) -> None:
        seen.extend(r.value for r in batch)

    app.topic("articles", value=pb.Article)  # after the function: both orders work
    app.ensure_topics(broker)
    assert broker.describe_topic("articles").config["value_schema"] == "articles-value"
    assert broker.schemas.versions("articles-value") == [1]
    for author in ("ada", "bob", "ada"):
        broker.produce("articles", pb.Article(id=author, title="t", author=author))
    run_app(broker, app, until=committed(broker, "blog.index", "articles", 3))
    assert [type(a).__name__ for a in seen] == ["Article", "Article"]
    assert [a.author for a in seen] == ["ada", "ada"]


def test_a_value_that_does_not_decode_goes_to_on_failure_as_stored(
    broker: logway.Broker,
) -> None:
    app = logway.App("blog")
    app.topic("articles", value=pb.Article, value_schema=None)  # typed, not enforced
    seen: list[str] = []

    @app.function(
        "articles",
        starting_position="earliest",
        retry_attempts=0,
        bisect_on_error=True,
        on_failure="articles-failed",
        **FAST_RETRY,
    )
    def index(batch: Batch) -> None:
        seen.extend(r.value.title for r in batch)

    app.ensure_topics(broker)
    broker.produce("articles", pb.Article(title="good"))
    broker.produce("articles", b"\xff\xff not a message")
    run_app(broker, app, until=committed(broker, "blog.index", "articles", 2))
    assert seen == ["good"]
    (failed,) = broker.fetch("articles-failed", 0, 0)
    assert failed.value == b"\xff\xff not a message"
    assert failed.header("logway.error.type") == b"InvalidRecordError"
    assert b"does not decode as Article" in (failed.header("logway.error.message") or b"")


def test_a_breaking_change_of_the_message_is_refused_at_start(broker: logway.Broker) -> None:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(proto)
    proto.name = "changed/article.proto"
    title = next(f for f in proto.message_type[0].field if f.name == "title")
    title.type = descriptor_pb2.FieldDescriptorProto.TYPE_INT64  # string -> int64
    pool = descriptor_pool.DescriptorPool()
    for dep in pb.DESCRIPTOR.dependencies:
        dep_proto = descriptor_pb2.FileDescriptorProto()
        dep.CopyToProto(dep_proto)
        pool.Add(dep_proto)
    pool.Add(proto)
    changed = message_factory.GetMessageClass(pool.FindMessageTypeByName("microblog.v1.Article"))

    first = logway.App("blog")
    first.topic("articles", value=pb.Article)
    first.ensure_topics(broker)
    second = logway.App("blog")
    second.topic("articles", value=changed)
    with pytest.raises(IncompatibleSchemaError, match="title"):
        second.ensure_topics(broker)
    assert broker.schemas.versions("articles-value") == [1]


def test_value_takes_a_message_class() -> None:
    with pytest.raises(InvalidArgumentError, match="generated Protobuf message class"):
        logway.App("blog").topic("articles", value=dict)
