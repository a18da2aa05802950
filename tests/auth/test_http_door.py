"""The HTTP door of a real ``logway serve --auth``: REST, Server-Sent Events,
``/metrics`` and gRPC-Web refuse callers without credentials (401) or without an ACL
(403), change nothing stored when they refuse, never print a secret, and let browsers
sign in with a session cookie guarded against CSRF. The tests with the server are
marked slow (a process); those of ``Sessions`` alone, at the end, are not."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

import logway
from logway.auth import Acl, AuthStore
from logway.broker import Broker
from logway.errors import AuthenticationError
from logway.records import TopicPartition
from logway.server.access import AUDIT_TOPIC, Access
from logway.server.sessions import Sessions
from logway.v1 import log_pb2 as pb
from tests.auth.http_clients import Event, client, events, grpc_web
from tests.servers import LogwayServer

PASSWORD = "Sup3r-secret-pw"
BOB_PASSWORD = "B0b-secret-pw"
WRONG = "Wr0ng-guess-pw"
OPS = (
    *("produce", "fetch", "list", "create", "delete", "describe"),  # topics
    *("groups", "lag"),
    *("stream", "metrics"),
)
CREDENTIALS = ("none", "wrong-password", "revoked-token", "forbidden", "allowed")


@dataclass
class Door:
    """The server, a broker over its data directory (no HTTP, no checks: the admin's
    view of what is stored), its AuthStore, and the secrets made for the tests."""

    server: LogwayServer
    admin: Broker
    store: AuthStore
    tokens: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    @property
    def http(self) -> str:
        return self.server.http

    def topic(self, records: int = 1) -> str:
        name = f"door.{uuid.uuid4().hex[:8]}"
        self.admin.create_topic(name, 1)
        for i in range(records):
            self.admin.produce(name, f"r{i}")
        return name

    def token(self, user: str, name: str) -> str:
        token = self.store.create_token(name, user)
        self.secrets.append(token)
        return token

    def assert_no_secret_printed(self) -> None:
        output = "".join(self.server.output)
        for secret in self.secrets:
            assert secret not in output


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    data: Path = tmp_path_factory.mktemp("door") / "data"
    server = LogwayServer(data, "--auth")
    server.start()
    admin = logway.connect(f"file:{data}")  # through the server's data-directory socket
    try:
        store = AuthStore(admin)
        found = Door(server, admin, store, secrets=[PASSWORD, BOB_PASSWORD, WRONG])
        store.add_user("ada", PASSWORD, ["staff"])
        store.add_user("bob", BOB_PASSWORD)  # no ACL names him
        store.add_user("carol", PASSWORD, ["staff"])  # her tokens get revoked
        for op in OPS:  # a user per wrong-password case: failures slow sign-ins per name
            store.add_user(f"wp-{op}", PASSWORD, ["staff"])
        store.add_acl(Acl.of("Group:staff", "all", "topic", "door.", "prefixed"))
        store.add_acl(Acl.of("Group:staff", "all", "group", "door.", "prefixed"))
        store.add_acl(Acl.of("User:ada", "describe", "cluster", "cluster"))  # /metrics
        found.tokens["ada"] = found.token("ada", "ci")
        found.tokens["bob"] = found.token("bob", "ci")
        for op in OPS:
            found.tokens[f"revoked-{op}"] = token = found.token("carol", f"gone-{op}")
            stored = next(t for t in store.tokens("carol") if t.name == f"gone-{op}")
            store.revoke_token(stored.id)
            assert store.authenticate_token(token) is None
        yield found
        found.assert_no_secret_printed()
    finally:
        admin.close()
        assert server.stop() == 0, "".join(server.output)


def _headers(door: Door, credential: str, op: str) -> dict[str, str]:
    if credential == "none":
        return {}
    if credential == "wrong-password":
        return {"authorization": _basic(f"wp-{op}", WRONG)}
    if credential == "revoked-token":
        return {"authorization": f"Bearer {door.tokens[f'revoked-{op}']}"}
    if credential == "forbidden":
        return {"authorization": f"Bearer {door.tokens['bob']}"}
    return {"authorization": f"Bearer {door.tokens['ada']}"}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _topics(door: Door) -> list[str]:
    """The topics stored, but the audit trail (a refusal writes to it)."""
    return sorted(t for t in door.admin.list_topics() if t != AUDIT_TOPIC)


def _request(http: httpx.Client, op: str, topic: str, group: str) -> httpx.Response:
    """One request for ``op``; a stream's body is read up to its first event."""
    if op == "produce":
        return http.post(f"/v1/topics/{topic}/records", json={"records": [{"value": "x"}]})
    if op == "fetch":
        return http.get(f"/v1/topics/{topic}/partitions/0/records")
    if op == "list":
        return http.get("/v1/topics")
    if op == "create":
        return http.post("/v1/topics", json={"name": f"{topic}-new"})
    if op == "delete":
        return http.delete(f"/v1/topics/{topic}")
    if op == "describe":
        return http.get(f"/v1/topics/{topic}")
    if op == "groups":
        return http.get("/v1/groups")
    if op == "lag":
        return http.get(f"/v1/groups/{group}/lag")
    if op == "metrics":
        return http.get("/metrics")
    assert op == "stream"
    with http.stream("GET", f"/v1/topics/{topic}/stream") as response:
        if response.status_code == 200:
            first = next(events(response))
            assert (first.event, first.data["value"]) == ("record", "r0")
        else:
            response.read()
        return response


@pytest.mark.slow
@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("op", OPS)
def test_every_route_asks_for_credentials_and_acls(door: Door, op: str, credential: str) -> None:
    topic = door.topic(records=1)
    group = f"door.g-{uuid.uuid4().hex[:8]}"
    door.admin.commit(group, {TopicPartition(topic, 0): 1})
    topics_before = _topics(door)
    with client(door.http, headers=_headers(door, credential, op)) as http:
        response = _request(http, op, topic, group)

    denied = credential != "allowed"
    if credential in ("none", "wrong-password", "revoked-token"):
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "AuthenticationError"
        challenge = response.headers["www-authenticate"]
        assert 'Bearer realm="logway"' in challenge and 'Basic realm="logway"' in challenge
    elif credential == "forbidden" and op in ("list", "groups"):
        assert response.status_code == 200  # a listing shows only what one may describe
        listed = response.json()["topics" if op == "list" else "groups"]
        assert not [name for name in listed if name.startswith("door.")]
    elif credential == "forbidden":
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "PermissionDeniedError"
        assert "User:bob may not" in response.json()["message"]
    else:
        assert response.status_code < 300, response.text

    if denied or op in ("fetch", "list", "describe", "groups", "lag", "stream", "metrics"):
        assert _topics(door) == topics_before  # nothing made or deleted
        assert door.admin.end_offsets(topic) == {0: 1}  # nothing written
    elif op == "produce":
        assert door.admin.end_offsets(topic) == {0: 2}
    elif op == "create":
        assert f"{topic}-new" in door.admin.list_topics()
    elif op == "delete":
        assert topic not in door.admin.list_topics()
    if op == "list" and credential == "allowed":
        listed = response.json()["topics"]
        assert topic in listed and not [t for t in listed if t.startswith("__logway")]
    if op == "groups" and credential == "allowed":
        assert group in response.json()["groups"]
    if op == "metrics" and credential == "allowed":
        assert f'logway_topic_end_offset{{topic="{topic}",partition="0"}} 1' in response.text
    door.assert_no_secret_printed()


@pytest.mark.slow
def test_a_password_works_as_basic_credentials(door: Door) -> None:
    topic = door.topic(records=1)
    with client(door.http, headers={"authorization": _basic("ada", PASSWORD)}) as http:
        assert http.get(f"/v1/topics/{topic}").json()["end_offsets"] == {"0": 1}
        assert topic in http.get("/v1/topics").json()["topics"]
        me = http.get("/auth/me").json()
        assert (me["principal"], me["groups"], me["via"]) == ("User:ada", ["staff"], "password")
        assert me["csrf_token"] is None  # a header needs no CSRF token
    with client(door.http, headers={"authorization": "Basic not-base64!"}) as http:
        refused = http.get("/v1/topics")
        assert refused.status_code == 401 and refused.json()["error"] == "AuthenticationError"


@pytest.mark.slow
def test_scripts_are_not_offered_basic(door: Door) -> None:
    """A 401 to a browser's fetch() would otherwise pop the browser's password dialog."""
    with client(door.http, headers={"sec-fetch-mode": "cors"}) as http:
        response = http.get("/v1/topics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="logway"'


@pytest.mark.slow
def test_pages_and_the_api_document_stay_public(door: Door) -> None:
    with client(door.http) as http:
        index = http.get("/")
        assert index.status_code == 200 and "/auth/login" in index.text
        assert http.get("/docs").status_code == 200
        doc = http.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["token"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "lw_…",
        "description": schemes["token"]["description"],
    }
    assert schemes["password"]["scheme"] == "basic"
    assert schemes["session"]["in"] == "cookie" and schemes["session"]["name"] == "logway_session"
    for path, method in [
        ("/v1/topics", "get"),
        ("/v1/topics", "post"),
        ("/v1/topics/{topic}/records", "post"),
        ("/v1/topics/{topic}/stream", "get"),
        ("/v1/groups/{group}/lag", "get"),
        ("/auth/me", "get"),
    ]:
        operation = doc["paths"][path][method]
        assert {"401", "403"} <= set(operation["responses"]), path
        assert {"token", "password", "session"} == {k for s in operation["security"] for k in s}
    login = doc["paths"]["/auth/login"]["post"]
    assert "security" not in login
    assert set(login["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }


@pytest.mark.slow
@pytest.mark.parametrize("key", ["token", "access_token", "Access_Token"])
def test_credentials_in_the_url_are_refused(door: Door, key: str) -> None:
    topic = door.topic()
    token = door.tokens["ada"]
    with client(door.http, headers={"authorization": f"Bearer {token}"}) as http:
        for path in (f"/v1/topics/{topic}/stream", f"/v1/topics/{topic}/partitions/0/records"):
            response = http.get(path, params={key: token})
            assert response.status_code == 400, response.text
            assert "credentials in the URL" in response.json()["message"]
            assert token not in response.text
    door.assert_no_secret_printed()


# --- browser sessions ---------------------------------------------------------------


def _login(http: httpx.Client, user: str = "ada", password: str = PASSWORD) -> dict:
    response = http.post("/auth/login", json={"user": user, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.slow
def test_sign_in_sets_a_guarded_session_cookie(door: Door) -> None:
    with client(door.http) as http:
        response = http.post("/auth/login", json={"user": "ada", "password": PASSWORD})
        assert response.status_code == 200, response.text
        cookie = response.headers["set-cookie"]
        value = response.cookies["logway_session"]
        assert len(value) >= 43  # secrets.token_urlsafe(32)
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "path", "samesite", "max-age"} <= attributes
        assert "samesite=strict" in cookie.lower() and "secure" not in attributes  # http
        me = response.json()
        assert (me["principal"], me["user"], me["groups"]) == ("User:ada", "ada", ["staff"])
        assert me["via"] == "session" and me["csrf_token"] and me["expires"] > time.time() * 1000
        again = http.get("/auth/me").json()  # the cookie alone identifies the browser
        assert again["principal"] == "User:ada" and again["csrf_token"] == me["csrf_token"]
    door.secrets.append(value)
    door.assert_no_secret_printed()


@pytest.mark.slow
def test_sign_in_with_an_html_form(door: Door) -> None:
    with client(door.http) as http:
        response = http.post("/auth/login", data={"user": "ada", "password": PASSWORD})
        assert response.status_code == 200 and response.json()["principal"] == "User:ada"
        assert http.get("/auth/me").json()["via"] == "session"


@pytest.mark.slow
def test_the_cookie_is_secure_over_https(door: Door) -> None:
    """Behind a TLS proxy on this machine (uvicorn trusts X-Forwarded-Proto from it)."""
    response = httpx.post(
        f"{door.http}/auth/login",
        json={"user": "ada", "password": PASSWORD},
        headers={"x-forwarded-proto": "https"},
    )
    assert response.status_code == 200
    assert "secure" in response.headers["set-cookie"].lower()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"json": {"user": "ada", "password": WRONG}}, {}, 401),
        ({"json": {"user": "nobody", "password": WRONG}}, {}, 401),
        ({"json": {"user": "ada"}}, {}, 400),
        ({"content": b"user=ada", "headers": {"content-type": "text/plain"}}, {}, 400),
        ({"json": {"user": "ada", "password": PASSWORD}}, {"sec-fetch-site": "cross-site"}, 403),
    ],
)
def test_sign_in_refusals_set_no_cookie(
    door: Door, body: dict, headers: dict[str, str], status: int
) -> None:
    with client(door.http, headers=headers) as http:
        response = http.post("/auth/login", **body)
    assert response.status_code == status, response.text
    assert "set-cookie" not in response.headers
    assert response.json()["message"]
    door.assert_no_secret_printed()


@pytest.mark.slow
def test_cookie_writes_need_the_csrf_header(door: Door) -> None:
    topic = door.topic(records=1)
    with client(door.http) as http:
        csrf = _login(http)["csrf_token"]
        path = f"/v1/topics/{topic}/records"
        body = {"records": [{"value": "x"}]}
        for headers in ({}, {"x-logway-csrf": "forged"}, {"x-requested-with": "XMLHttpRequest"}):
            refused = http.post(path, json=body, headers=headers)
            assert refused.status_code == 403, refused.text
            assert "X-Logway-CSRF" in refused.json()["message"]
        assert http.delete(f"/v1/topics/{topic}").status_code == 403
        assert http.post("/v1/topics", json={"name": f"{topic}-x"}).status_code == 403
        assert door.admin.end_offsets(topic) == {0: 1}
        assert f"{topic}-x" not in door.admin.list_topics()
        # reads need no token; writes with it go through
        assert len(http.get(f"/v1/topics/{topic}/partitions/0/records").json()["records"]) == 1
        written = http.post(path, json=body, headers={"x-logway-csrf": csrf})
        assert written.status_code == 200, written.text
        assert door.admin.end_offsets(topic) == {0: 2}


@pytest.mark.slow
def test_sign_out_ends_the_session(door: Door) -> None:
    with client(door.http) as http:
        csrf = _login(http)["csrf_token"]
        value = http.cookies["logway_session"]
        assert http.post("/auth/logout").status_code == 403  # a POST: needs the token
        assert http.get("/auth/me").status_code == 200
        out = http.post("/auth/logout", headers={"x-logway-csrf": csrf})
        assert out.status_code == 204
        assert "logway_session=" in out.headers["set-cookie"]
        assert "max-age=0" in out.headers["set-cookie"].lower()
    with client(door.http, headers={"cookie": f"logway_session={value}"}) as stale:
        response = stale.get("/auth/me")
        assert response.status_code == 401
        assert "sign in again" in response.json()["message"]
        assert response.headers["www-authenticate"] == 'Bearer realm="logway"'


@pytest.mark.slow
def test_auth_me_with_a_token(door: Door) -> None:
    with client(door.http, headers={"authorization": f"Bearer {door.tokens['bob']}"}) as http:
        me = http.get("/auth/me").json()
    assert me == {
        "principal": "User:bob",
        "user": "bob",
        "groups": [],
        "via": "token",
        "csrf_token": None,
        "expires": None,
    }


# --- streams that lose their permission -------------------------------------------


def _until_error(live: Iterator[Event]) -> tuple[list[str], dict, float]:
    """Read a stream to its last event: the record values before it, its data, and
    when it came (time.monotonic())."""
    values = []
    for event in live:
        if event.event == "record":
            values.append(event.data["value"])
            continue
        assert event.event == "error", event
        return values, event.data, time.monotonic()
    raise AssertionError("the stream ended without an error event")


def _open_stream(
    door: Door, topic: str, revoke: Callable[[], None], **headers: str
) -> tuple[dict, float]:
    """Open a stream, see its first record, ``revoke``; the stream's last event and
    how long after ``revoke`` it came."""
    with (
        client(door.http, headers=headers) as http,
        http.stream("GET", f"/v1/topics/{topic}/stream") as stream,
    ):
        assert stream.status_code == 200
        live = events(stream)
        assert next(live).data["value"] == "r0"  # open and registered
        revoke()
        began = time.monotonic()
        values, data, ended = _until_error(live)
        assert values == []  # nothing was written meanwhile
    return data, ended - began


@pytest.mark.slow
def test_a_stream_ends_when_its_read_acl_is_removed(door: Door) -> None:
    topic = door.topic(records=1)
    reader = f"reader-{uuid.uuid4().hex[:6]}"
    door.store.add_user(reader, PASSWORD)
    acl = Acl.of(f"User:{reader}", "read", "topic", topic)
    door.store.add_acl(acl)
    token = door.token(reader, "stream")
    data, took = _open_stream(
        door, topic, lambda: door.store.remove_acl(acl), authorization=f"Bearer {token}"
    )
    assert data["error"] == "PermissionDeniedError" and "may no longer read" in data["message"]
    assert took < 1.5
    with client(door.http, headers={"authorization": f"Bearer {token}"}) as http:
        assert http.get(f"/v1/topics/{topic}/stream").status_code == 403


@pytest.mark.slow
def test_a_stream_ends_when_its_token_is_revoked(door: Door) -> None:
    topic = door.topic(records=1)
    name = f"live-{uuid.uuid4().hex[:6]}"
    token = door.token("carol", name)
    stored = next(t for t in door.store.tokens("carol") if t.name == name)

    data, took = _open_stream(
        door,
        topic,
        lambda: door.store.revoke_token(stored.id),
        authorization=f"Bearer {token}",
    )
    assert data["error"] == "AuthenticationError" and took < 1.5


@pytest.mark.slow
def test_signing_out_ends_the_streams_of_the_session(door: Door) -> None:
    topic = door.topic(records=1)
    with client(door.http) as http:
        csrf = _login(http)["csrf_token"]
        cookie = f"logway_session={http.cookies['logway_session']}"

        def sign_out() -> None:
            assert http.post("/auth/logout", headers={"x-logway-csrf": csrf}).status_code == 204

        data, took = _open_stream(door, topic, sign_out, cookie=cookie)
    assert data["error"] == "AuthenticationError" and "signed out" in data["message"]
    assert took < 1.5


@pytest.mark.slow
def test_removing_a_user_ends_its_session_and_streams(door: Door) -> None:
    topic = door.topic(records=1)
    name = f"temp-{uuid.uuid4().hex[:6]}"
    door.store.add_user(name, PASSWORD, ["staff"])
    with client(door.http) as http:
        _login(http, name)
        cookie = f"logway_session={http.cookies['logway_session']}"
        data, took = _open_stream(door, topic, lambda: door.store.remove_user(name), cookie=cookie)
        assert data["error"] == "AuthenticationError" and took < 1.5
        assert http.get("/auth/me").status_code == 401
        assert http.get(f"/v1/topics/{topic}").status_code == 401


# --- gRPC-Web -------------------------------------------------------------------------


@pytest.mark.slow
def test_grpc_web_with_a_token_and_with_a_cookie_without_csrf(door: Door) -> None:
    topic = door.topic()
    listing = pb.ListTopicsRequest().SerializeToString()
    with client(door.http) as http:
        assert grpc_web(http, "logway.v1.Log/ListTopics", listing).status == 16  # UNAUTHENTICATED
        by_token = grpc_web(
            http, "logway.v1.Log/ListTopics", listing, authorization=f"Bearer {door.tokens['ada']}"
        )
        assert (
            by_token.status == 0
            and topic in pb.ListTopicsResponse.FromString(by_token.messages[0]).names
        )
        _login(http)
        produce = pb.ProduceRequest(topic=topic, records=[pb.ProduceRecord(value=b"x")])
        refused = grpc_web(http, "logway.v1.Log/Produce", produce.SerializeToString())
        assert refused.status == 7 and "X-Logway-CSRF" in refused.message  # PERMISSION_DENIED
        assert refused.headers["logway-error"] == "PermissionDeniedError"
    with client(door.http, headers={"cookie": "logway_session=made-up"}) as stale:
        assert grpc_web(stale, "logway.v1.Log/ListTopics", listing).status == 16
    assert door.admin.end_offsets(topic) == {0: 1}


@pytest.mark.slow
def test_grpc_web_with_the_session_cookie(door: Door) -> None:
    topic = door.topic()
    with client(door.http) as http:
        csrf = _login(http)["csrf_token"]
        produce = pb.ProduceRequest(topic=topic, records=[pb.ProduceRecord(value=b"x")])
        reply = grpc_web(
            http, "logway.v1.Log/Produce", produce.SerializeToString(), **{"x-logway-csrf": csrf}
        )
        assert reply.status == 0, reply
        secret = pb.FetchRequest(topic="__logway_auth", partition=0, offset=0)
        hidden = grpc_web(
            http, "logway.v1.Log/Fetch", secret.SerializeToString(), **{"x-logway-csrf": csrf}
        )
        assert hidden.status == 7
    assert door.admin.end_offsets(topic) == {0: 2}


@pytest.mark.slow
def test_refusals_are_audited_without_secrets(door: Door) -> None:
    with client(door.http, headers={"authorization": f"Bearer {door.tokens['bob']}"}) as http:
        assert http.get("/metrics").status_code == 403
    end = door.admin.end_offsets(AUDIT_TOPIC)[0]
    records = door.admin.fetch(AUDIT_TOPIC, 0, max(0, end - 500), max_records=500)
    text = b"\n".join(r.value or b"" for r in records).decode()
    assert '"principal":"User:bob","door":"http","operation":"describe"' in text
    for secret in door.secrets:
        assert secret not in text


# --- sessions on their own (no server) ------------------------------------------------


@pytest.fixture
def access(tmp_path: Path) -> Iterator[Access]:
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        checks = Access(broker, enabled=True)
        assert checks.store is not None
        checks.store.add_user("ada", PASSWORD, ["staff"])
        yield checks


def _ended(sessions: Sessions, cookie: str) -> list[Exception]:
    """Where the errors that end the session named by ``cookie`` go."""
    session = sessions.find(cookie)
    assert session is not None
    ended: list[Exception] = []
    sessions.watch(session, ended.append)
    return ended


def test_a_session_names_its_user_until_signed_out(access: Access) -> None:
    sessions = Sessions(access)
    cookie, session = sessions.start("ada")
    assert sessions.find(cookie) is session
    assert session.identity.principal == "User:ada" and session.identity.via == "session"
    assert session.identity.expires_ms == session.expires_ms
    other, _ = sessions.start("ada")
    assert other != cookie and sessions.find(other) is not session
    assert sessions.find("made-up") is None and sessions.find(None) is None
    ended = _ended(sessions, cookie)
    sessions.end(cookie)
    assert sessions.find(cookie) is None
    assert [type(e) for e in ended] == [AuthenticationError]
    assert "signed out" in str(ended[0])
    assert sessions.find(other) is not None  # another browser's session goes on


def test_a_new_password_or_a_removed_user_ends_sessions(access: Access) -> None:
    assert access.store is not None
    sessions = Sessions(access)
    cookie, _ = sessions.start("ada")
    ended = _ended(sessions, cookie)
    access.store.set_password("ada", "N3w-secret-pw")
    assert sessions.find(cookie) is None
    assert "new password" in str(ended[0])
    cookie, _ = sessions.start("ada")
    access.store.remove_user("ada")
    access.store.add_user("ada", PASSWORD)  # the same name, another user
    assert sessions.find(cookie) is None


def test_sessions_expire_and_are_bounded(access: Access) -> None:
    expired = Sessions(access, ttl_s=0)
    cookie, _ = expired.start("ada")
    assert expired.find(cookie) is None
    few = Sessions(access, max_sessions=2)
    first, _ = few.start("ada")
    ended = _ended(few, first)
    second, _ = few.start("ada")
    third, _ = few.start("ada")
    assert few.find(first) is None and "too many sessions" in str(ended[0])
    assert few.find(second) is not None and few.find(third) is not None
