"""The microblog app under a real ``logway serve --app``: gRPC, gRPC-Web, the page."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.server import grpc_web_client as web
from tests.servers import LogwayServer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "microblog"))
from microblog.v1 import article_pb2 as pb  # noqa: E402
from microblog.v1 import article_pb2_grpc  # noqa: E402

pytestmark = pytest.mark.slow  # a server process


@pytest.fixture
def blog(tmp_path: Path) -> Iterator[LogwayServer]:
    cwd = os.getcwd()
    os.chdir(ROOT)  # --app imports from the working directory, as uvicorn does
    try:
        server = LogwayServer(tmp_path / "data", "--app", "examples.microblog.app:app")
        server.start()
    finally:
        os.chdir(cwd)
    yield server
    assert server.stop() == 0, "".join(server.output)


def _stub(server: LogwayServer) -> article_pb2_grpc.MicroblogStub:
    return article_pb2_grpc.MicroblogStub(grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}"))


def test_articles_are_listed_in_log_order_then_live(blog: LogwayServer) -> None:
    stub = _stub(blog)
    first = stub.CreateArticle(pb.CreateArticleRequest(title="One", content="first", author="ann"))
    assert first.id and first.created_at > 0 and first.title == "One"
    stub.CreateArticle(pb.CreateArticleRequest(title="Two", content="second", author="bob"))
    stream = stub.ListArticles(pb.ListArticlesRequest())
    assert [next(stream).title for _ in range(2)] == ["One", "Two"]
    stub.CreateArticle(pb.CreateArticleRequest(title="Three", author="cat"))
    live = next(stream)
    assert (live.title, live.author) == ("Three", "cat")
    stream.cancel()


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"title": "   ", "author": "a"}, "needs a title"),
        ({"title": "t" * 201, "author": "a"}, "limit is 200"),
        ({"title": "ok", "content": "c" * 10_001, "author": "a"}, "limit is 10000"),
        ({"title": "ok", "author": ""}, "needs an author"),
    ],
)
def test_invalid_articles_are_refused(
    blog: LogwayServer, request_fields: dict, message: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _stub(blog).CreateArticle(pb.CreateArticleRequest(**request_fields))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in err.value.details()
    with httpx.Client() as client:
        assert client.get(f"{blog.http}/v1/topics/articles").json()["end_offsets"] == {"0": 0}


def test_grpc_web_create_list_and_bad_protobuf(blog: LogwayServer) -> None:
    request = pb.CreateArticleRequest(title="Web", content="from a browser", author="dee")
    created = web.call(
        blog.http, "microblog.v1.Microblog/CreateArticle", request.SerializeToString()
    )
    assert created.status == 0
    assert pb.Article.FromString(created.messages[0]).title == "Web"
    listed = web.stream(blog.http, "microblog.v1.Microblog/ListArticles", b"", until=1)
    assert pb.Article.FromString(listed.messages[0]).content == "from a browser"
    broken = web.call(blog.http, "microblog.v1.Microblog/CreateArticle", b"\x0a\xff\xff")
    assert broken.status == 13  # INTERNAL: the request does not parse
    empty = web.call(blog.http, "microblog.v1.Microblog/CreateArticle", b"", text=True)
    assert empty.status == 3 and "title" in empty.message


def test_the_page_and_its_scripts_are_served(blog: LogwayServer) -> None:
    page = httpx.get(f"{blog.http}/")
    assert page.status_code == 200 and '<form id="compose">' in page.text
    for asset in ("app.js", "grpcweb.js", "style.css"):
        assert httpx.get(f"{blog.http}/{asset}").status_code == 200
    topics = httpx.get(f"{blog.http}/v1/topics").json()["topics"]
    assert topics == ["__logway_schemas", "articles"]  # the schema registry's, the app's
