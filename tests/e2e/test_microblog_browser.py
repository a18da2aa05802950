"""The microblog in a real browser (Debian's Chromium driven by Playwright) against
a real ``logway serve``: two tabs, live updates, reload, server restart."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

import logway
from logway.auth import Acl, AuthStore
from tests.servers import LogwayServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine notes require: no background networking on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed; make test installs it (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _serve(data: Path, *extra: str) -> LogwayServer:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        server = LogwayServer(data, "--app", "examples.microblog.app:app", *extra)
        server.start()
    finally:
        os.chdir(cwd)
    return server


def _post(page: Page, title: str, content: str, author: str) -> None:
    page.fill("#title", title)
    page.fill("#content", content)
    page.fill("#author", author)
    page.click("#publish")


def _titles(page: Page) -> list[str]:
    return page.locator("#articles li h2").all_inner_texts()


def test_two_tabs_reload_and_restart(browser: Browser, tmp_path: Path) -> None:
    server = _serve(tmp_path / "data")
    try:
        context = browser.new_context()
        a, b = context.new_page(), context.new_page()
        for page in (a, b):
            page.goto(server.http + "/")
            expect(page.locator("#status")).to_contain_text("live", timeout=15_000)

        _post(a, "First from A", "appended to the log", "ann")
        expect(b.locator("#articles li h2")).to_have_text(["First from A"], timeout=15_000)
        _post(b, "Reply from B", "and back again", "bob")
        expect(a.locator("#articles li h2")).to_have_text(
            ["First from A", "Reply from B"], timeout=15_000
        )

        _post(a, "", "no title", "ann")  # refused: the server's reason is shown
        expect(a.locator("#error")).to_contain_text("needs a title", timeout=15_000)
        assert len(_titles(a)) == 2

        b.reload()
        expect(b.locator("#articles li h2")).to_have_text(
            ["First from A", "Reply from B"], timeout=15_000
        )
        ARTIFACTS.mkdir(exist_ok=True)
        b.screenshot(path=str(ARTIFACTS / "microblog.png"), full_page=True)
    finally:
        assert server.stop() == 0, "".join(server.output)

    server = _serve(tmp_path / "data")  # same data directory, new process and ports
    try:
        page = browser.new_page()
        page.goto(server.http + "/")
        expect(page.locator("#articles li h2")).to_have_text(
            ["First from A", "Reply from B"], timeout=15_000
        )
        page.screenshot(path=str(ARTIFACTS / "microblog-after-restart.png"), full_page=True)
    finally:
        assert server.stop() == 0, "".join(server.output)


def _sign_in(page: Page, user: str, password: str) -> None:
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("#signin-button")


def test_sign_in_post_sign_out_and_a_refused_post(browser: Browser, tmp_path: Path) -> None:
    """Under --auth: authors post under their own name, an outsider may read but is
    told it may not post, and a signed-out page may do neither."""
    data = tmp_path / "data"
    server = _serve(data, "--auth")
    try:
        with logway.connect(f"file:{data}") as admin:  # the server's own socket
            store = AuthStore(admin)
            store.add_user("ada", "ada-password-1", ["authors"])
            store.add_user("olly", "olly-password-1", ["outsider"])
            store.add_acl(Acl.of("Group:authors", "write", "topic", "articles"))
            store.add_acl(Acl.of("User:*", "read", "topic", "articles"))
        page = browser.new_page()
        page.goto(server.http + "/")
        expect(page.locator("#signin")).to_be_visible(timeout=15_000)
        expect(page.locator("#status")).to_contain_text("sign in", timeout=15_000)

        _sign_in(page, "ada", "wrong password")
        expect(page.locator("#account-error")).to_contain_text("authentication failed")
        _sign_in(page, "ada", "ada-password-1")
        expect(page.locator("#me")).to_contain_text("ada (authors)", timeout=15_000)
        expect(page.locator("#signin")).to_be_hidden()
        expect(page.locator("#status")).to_contain_text("live", timeout=15_000)
        page.fill("#title", "Signed and sealed")
        page.fill("#content", "posted by a member of authors")
        page.click("#publish")
        expect(page.locator("#articles li .meta")).to_contain_text(["ada"], timeout=15_000)
        page.click("#signout")
        expect(page.locator("#signin")).to_be_visible(timeout=15_000)
        expect(page.locator("#articles li")).to_have_count(0)  # nothing to read signed out

        _sign_in(page, "olly", "olly-password-1")
        expect(page.locator("#articles li h2")).to_have_text(["Signed and sealed"], timeout=15_000)
        page.fill("#title", "From outside")
        page.fill("#content", "should not appear")
        page.click("#publish")
        expect(page.locator("#error")).to_contain_text("may read but not post", timeout=15_000)
        with logway.connect(f"file:{data}") as admin:
            assert admin.end_offsets("articles") == {0: 1}
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "microblog-outsider.png"), full_page=True)
    finally:
        output = "".join(server.output)
        assert server.stop() == 0, output
    assert "ada-password-1" not in output and "olly-password-1" not in output


def test_server_sent_events_fallback(browser: Browser, tmp_path: Path) -> None:
    server = _serve(tmp_path / "data")
    try:
        page = browser.new_page()
        page.goto(server.http + "/?sse")  # the fallback, as for a browser without streams
        expect(page.locator("#transport")).to_have_text("Server-Sent Events")
        expect(page.locator("#status")).to_contain_text("live", timeout=15_000)
        _post(page, "Over SSE", "pushed as an event", "eve")
        expect(page.locator("#articles li h2")).to_have_text(["Over SSE"], timeout=15_000)
        page.reload()
        expect(page.locator("#articles li h2")).to_have_text(["Over SSE"], timeout=15_000)
    finally:
        assert server.stop() == 0, "".join(server.output)


def test_articles_from_before_the_schema_registry_and_after_show_alike(
    browser: Browser, tmp_path: Path
) -> None:
    """A data directory of an older microblog holds raw articles; new ones are in the
    schema registry's wire format. Both transports show both, in log order."""
    sys.path.insert(0, str(ROOT / "examples" / "microblog"))
    from microblog.v1 import article_pb2 as pb

    data = tmp_path / "data"
    with logway.connect(f"file:{data}") as broker:
        broker.create_topic("articles", 1)
        old = pb.Article(id="old", title="Raw, from before", author="ann", created_at=1)
        broker.produce("articles", old.SerializeToString())
    server = _serve(data)
    try:
        page = browser.new_page()
        page.goto(server.http + "/")
        expect(page.locator("#articles li h2")).to_have_text([old.title], timeout=15_000)
        _post(page, "Framed, from now on", "in the wire format", "bob")
        titles = [old.title, "Framed, from now on"]
        expect(page.locator("#articles li h2")).to_have_text(titles, timeout=15_000)
        with logway.connect(f"file:{data}") as admin:
            assert admin.fetch("articles", 0, 1)[0].value[:1] == b"\x00"  # framed
        sse = browser.new_page()
        sse.goto(server.http + "/?sse")
        expect(sse.locator("#transport")).to_have_text("Server-Sent Events")
        expect(sse.locator("#articles li h2")).to_have_text(titles, timeout=15_000)
        expect(sse.locator("#articles li .meta").nth(1)).to_contain_text("bob")
    finally:
        assert server.stop() == 0, "".join(server.output)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_event_source_resumes_on_the_next_server_after_sigterm(
    browser: Browser, tmp_path: Path
) -> None:
    """The browser's own EventSource: the last ``stopping`` event's id is the whole
    position, so it reconnects to the next server with Last-Event-ID and gets each
    record once, though it asked for ``from=earliest``."""
    ports = (
        "--grpc-port",
        str(_free_port()),
        "--http-port",
        str(_free_port()),
        "--kafka-port",
        "auto",
    )
    server = LogwayServer(tmp_path / "data", *ports)
    server.start()
    try:
        with logway.connect(server.url) as broker:
            broker.create_topic("t", partitions=2)
            broker.produce_many("t", [logway.Message(f"r{p}", partition=p) for p in (0, 1)])
        page = browser.new_page()
        page.goto(server.http + "/")
        page.evaluate(
            """() => {
                window.got = [];
                const es = new EventSource('/v1/topics/t/stream?from=earliest');
                es.addEventListener('record', e => window.got.push(JSON.parse(e.data).value));
                es.addEventListener('stopping', e => { window.stoppingId = e.lastEventId; });
            }"""
        )
        page.wait_for_function("window.got.length === 2", timeout=15_000)
    finally:
        assert server.stop() == 0, "".join(server.output)
    assert page.evaluate("window.stoppingId") == "0:0,1:0"

    server = LogwayServer(tmp_path / "data", *ports)  # the next server, same address
    server.start()
    try:
        with logway.connect(server.url) as broker:
            broker.produce_many("t", [logway.Message(f"s{p}", partition=p) for p in (0, 1)])
        page.wait_for_function("window.got.length >= 4", timeout=15_000)
        got = page.evaluate("window.got")
        assert sorted(got) == ["r0", "r1", "s0", "s1"], got  # each once: no replay
    finally:
        assert server.stop() == 0, "".join(server.output)
