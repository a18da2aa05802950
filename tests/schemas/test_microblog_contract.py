"""The microblog's contract under a real ``logway serve --app``: the app registers
article.proto (subject ``articles-value``) when it starts and writes articles in the
registry's wire format; a breaking change of the file (a field's type) is refused,
through the registry's REST API and the Python API alike, and nothing is registered;
a compatible one (a new field) is version 2, and a record written with it and one
written with version 1 are both read: by the app's own reader (version 1: the new
field kept as an unknown field, passed on to its clients), by a version 2 reader and
by schema id. A data directory from before the contract (a topic without
``value_schema``, raw articles) is still read, and new articles there are framed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from examples.microblog import app as microblog
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.unknown_fields import UnknownFieldSet

import logway
from logway.errors import IncompatibleSchemaError, InvalidRecordError
from logway.records import Record
from logway.schemas.wire import schema_id_of
from tests.servers import LogwayServer

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "microblog"))
from microblog.v1 import article_pb2 as pb
from microblog.v1 import article_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = "articles-value"
PROTO = microblog.ARTICLE_PROTO.read_text()
CREATED_AT = "  int64 created_at = 5;  // milliseconds since the Unix epoch\n"
BREAKING = PROTO.replace("  string title = 2;\n", "  int64 title = 2;\n")  # string -> int64
V2 = PROTO.replace(CREATED_AT, CREATED_AT + "  string summary = 6;\n")  # a new field
LIST = "/microblog.v1.Microblog/ListArticles"


def test_the_changes_are_the_ones_meant() -> None:
    assert "int64 title = 2;" in BREAKING and BREAKING != PROTO
    assert "string summary = 6;" in V2 and V2 != PROTO


@dataclass
class Blog:
    server: LogwayServer
    admin: logway.Broker  # the data directory through the server's own socket

    @property
    def registry(self) -> str:
        return f"{self.server.http}/schemas"

    def post(self, title: str, author: str = "ann") -> pb.Article:
        with grpc.insecure_channel(f"127.0.0.1:{self.server.grpc_port}") as channel:
            stub = article_pb2_grpc.MicroblogStub(channel)
            request = pb.CreateArticleRequest(title=title, content=f"{title}!", author=author)
            return stub.CreateArticle(request)

    def listed(self, count: int, message_type: Any = pb.Article) -> list[Any]:
        """The first ``count`` articles ListArticles streams, parsed as ``message_type``."""
        with grpc.insecure_channel(f"127.0.0.1:{self.server.grpc_port}") as channel:
            stream = channel.unary_stream(
                LIST,
                request_serializer=pb.ListArticlesRequest.SerializeToString,
                response_deserializer=message_type.FromString,
            )(pb.ListArticlesRequest(), timeout=30)
            got = [next(stream) for _ in range(count)]
            stream.cancel()
            return got

    def versions(self) -> list[int]:
        found: list[int] = httpx.get(f"{self.registry}/subjects/{SUBJECT}/versions").json()
        return found


def _serve(data: Path) -> LogwayServer:
    cwd = os.getcwd()
    os.chdir(ROOT)  # --app imports from the working directory, as uvicorn does
    try:
        server = LogwayServer(data, "--app", "examples.microblog.app:app")
        server.start()
    finally:
        os.chdir(cwd)
    return server


@contextmanager
def _blog(data: Path) -> Iterator[Blog]:
    server = _serve(data)
    try:
        with logway.connect(f"file:{data}") as admin:
            yield Blog(server, admin)
    finally:
        assert server.stop() == 0, "".join(server.output)


def _compiled(tmp_path: Path, text: str) -> Any:
    """``microblog.v1.Article`` of ``text``, as protoc compiles it (in a pool of its
    own: the process has version 1's generated code already)."""
    source = tmp_path / "proto" / "microblog" / "v1" / "article.proto"
    source.parent.mkdir(parents=True)
    source.write_text(text)
    out = tmp_path / "article.desc"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{tmp_path / 'proto'}",
            f"--descriptor_set_out={out}",
            str(source),
        ],
        check=True,
    )
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("microblog.v1.Article"))


def _unknown(message: Any) -> list[tuple[int, Any]]:
    return [(f.field_number, f.data) for f in UnknownFieldSet(message)]


@pytest.mark.slow  # a server process
def test_the_app_registers_article_proto_and_writes_the_wire_format(tmp_path: Path) -> None:
    with _blog(tmp_path / "data") as blog:
        assert blog.versions() == [1]
        v1 = httpx.get(f"{blog.registry}/subjects/{SUBJECT}/versions/1").json()
        assert (v1["schemaType"], v1["schema"]) == ("PROTOBUF", PROTO)  # the file, as text
        topic = httpx.get(f"{blog.server.http}/v1/topics/articles").json()
        assert topic["config"]["value_schema"] == SUBJECT

        created = blog.post("Framed")
        (record,) = blog.admin.fetch("articles", 0, 0)
        assert schema_id_of(record.value) == v1["id"]
        assert record.value[5:6] == b"\x00"  # message indexes: the file's first message
        assert record.decode(pb.Article) == microblog.article_of(record) == created
        assert blog.listed(1) == [created]

        # the topic holds everyone to the contract: raw bytes are refused at its doors
        with pytest.raises(InvalidRecordError, match="wire format"):
            blog.admin.produce("articles", created.SerializeToString())
        raw = httpx.post(
            f"{blog.server.http}/v1/topics/articles/records",
            json={"records": [{"value": "not an article"}]},
        )
        assert raw.status_code == 400, raw.text
        assert blog.admin.end_offsets("articles") == {0: 1}


@pytest.mark.slow  # a server process
def test_a_breaking_change_is_refused_and_a_new_field_is_read_old_and_new(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with _blog(data) as blog:
        first = blog.post("Written with v1")

        # (a) a field's type changed: refused by the REST API and by the Python API
        body = {"schema": BREAKING, "schemaType": "PROTOBUF"}
        refused = httpx.post(f"{blog.registry}/subjects/{SUBJECT}/versions", json=body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error_code"] == 409
        assert (
            "Article.title (field 2): type changed from string to int64"
            in (refused.json()["message"])
        )
        checked = httpx.post(
            f"{blog.registry}/compatibility/subjects/{SUBJECT}/versions/latest", json=body
        )
        assert checked.json()["is_compatible"] is False
        with pytest.raises(IncompatibleSchemaError) as error:
            blog.admin.schemas.register(SUBJECT, BREAKING, "PROTOBUF")
        assert any("Article.title (field 2)" in p for p in error.value.problems)
        assert blog.versions() == [1]  # nothing registered

        # (b) a new field: version 2, and a record written with it
        body = {"schema": V2, "schemaType": "PROTOBUF"}
        added = httpx.post(f"{blog.registry}/subjects/{SUBJECT}/versions", json=body)
        assert added.status_code == 200, added.text
        v2_id = added.json()["id"]
        assert blog.versions() == [1, 2]
        ArticleV2 = _compiled(tmp_path, V2)
        second = ArticleV2(
            id="v2", title="Written with v2", summary="in short", author="bob", created_at=2
        )
        blog.admin.produce("articles", second)  # found as version 2: nothing new registered
        assert blog.versions() == [1, 2]

        old, new = records = blog.admin.fetch("articles", 0, 0)
        v1_id = blog.admin.schemas.get(SUBJECT, 1).id
        assert [schema_id_of(r.value) for r in records] == [v1_id, v2_id]

        # the app's reader (version 1's code): the new field is kept as an unknown field
        assert microblog.article_of(old) == first
        read = microblog.article_of(new)
        assert read is not None and (read.id, read.title) == ("v2", "Written with v2")
        assert _unknown(read) == [(6, b"in short")]
        assert _unknown(first) == []

        # a version 2 reader sees both, the old one with the new field's default
        assert [r.decode(ArticleV2).summary for r in records] == ["", "in short"]
        assert records[0].decode(ArticleV2).title == "Written with v1"

        # by schema id: each record with the version it was written with
        by_id = [blog.admin.schemas.decode(r.value) for r in records]
        assert [[f.name for f in m.DESCRIPTOR.fields][-1] for m in by_id] == [
            "created_at",
            "summary",
        ]
        assert by_id[1].summary == "in short"

        # the app's service streams both; its version 1 code passes the field on
        assert [a.title for a in blog.listed(2)] == ["Written with v1", "Written with v2"]
        assert [a.summary for a in blog.listed(2, ArticleV2)] == ["", "in short"]

    # the app (still version 1) starts again: its file is a version of the subject
    with _blog(data) as blog:
        assert blog.versions() == [1, 2]
        third = blog.post("v1 again")
        assert schema_id_of(blog.admin.fetch("articles", 0, 2)[0].value) == v1_id
        assert [a.title for a in blog.listed(3)][2] == third.title


def test_a_breaking_change_of_the_file_stops_the_service_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with logway.connect(f"file:{tmp_path}/data") as broker:
        microblog.app.ensure_topics(broker)
        microblog.MicroblogService(broker)
        assert broker.schemas.versions(SUBJECT) == [1]
        changed = tmp_path / "article.proto"
        changed.write_text(BREAKING)
        monkeypatch.setattr(microblog, "ARTICLE_PROTO", changed)
        with pytest.raises(IncompatibleSchemaError, match="title"):
            microblog.MicroblogService(broker)
        assert broker.schemas.versions(SUBJECT) == [1]


@pytest.mark.slow  # a server process
def test_a_data_directory_from_before_the_contract_is_still_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = pb.Article(id="old", title="Raw, from before", author="ann", created_at=1)
    with logway.connect(f"file:{data}") as broker:
        broker.create_topic("articles", 1)  # as the microblog created it: no value_schema
        broker.produce("articles", before.SerializeToString())
    with _blog(data) as blog:
        topic = httpx.get(f"{blog.server.http}/v1/topics/articles").json()
        assert topic["config"]["value_schema"] is None  # an existing topic is not changed
        assert blog.versions() == [1]  # the contract is registered all the same
        after = blog.post("Framed, from now on")
        raw, framed = blog.admin.fetch("articles", 0, 0)
        assert raw.value == before.SerializeToString()
        assert schema_id_of(framed.value) == blog.admin.schemas.get(SUBJECT).id
        assert [microblog.article_of(r) for r in (raw, framed)] == [before, after]
        assert blog.listed(2) == [before, after]
        # without the setting the topic takes what it is given; the reader skips it
        blog.admin.produce("articles", b"\x00\x00\x00\x00\x07 not an article")
        blog.post("After the junk")
        assert [a.title for a in blog.listed(3)] == [
            before.title,
            after.title,
            "After the junk",
        ]


def test_the_reader_skips_what_is_no_article() -> None:
    junk = Record("articles", 0, 0, 0, None, b"\xff\xff not an article")
    assert microblog.article_of(junk) is None
