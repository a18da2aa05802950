"""Every door of one real ``logway serve --auth`` (with OpenID Connect) against every
kind of credential: gRPC, gRPC-Web, REST, Server-Sent Events, ``/metrics`` and the
Kafka port, each asked with no credential, a wrong password, a forged, expired,
other-audience or unknown-key JWT, a revoked API token, a valid caller the ACLs do not
allow, and allowed callers (password, API token, JWT). Each cell checks the door's own
answer and that a refusal stored nothing while an allowed write stored one record.
Then the issuer's keys rotate (the new key works on every door, the retired one is
refused), and no password, API token or JWT signature may reach the server's output.

Test order matters for time, not for results: a failed JWT sign-in makes the next JWT
sign-ins wait (see ``test_failed_jwts_elsewhere_do_not_slow_a_valid_one``), so the
valid JWTs go first and the refused ones last."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

import logway
from logway.auth import Acl, AuthStore
from logway.broker import Broker
from logway.errors import AuthenticationError, PermissionDeniedError
from logway.v1 import log_pb2 as pb
from tests.auth.http_clients import client, events, grpc_web
from tests.auth.test_oidc import AUDIENCE, ISSUER, Issuer
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process, Kafka clients

TOPIC = "matrix"
PASSWORD = "M4trix-pass-for-tests"
WRONG = "Wr0ng-matrix-guess"
DOORS = ("grpc", "grpc-web", "rest", "sse", "metrics", "kafka")
WRITERS = {"grpc", "grpc-web", "rest", "kafka"}  # doors that produce; sse reads, metrics scrapes
WAIT_S = 15.0  # the longest a Kafka client event is waited for
# a Kafka client refused at sign-in would try again only after the test is over
ONE_ATTEMPT: dict[str, Any] = {"reconnect.backoff.ms": 10_000, "reconnect.backoff.max.ms": 10_000}

ALLOWED, UNAUTHENTICATED, FORBIDDEN = "allowed", "unauthenticated", "forbidden"
# each door's own answer for each outcome
ANSWERS: dict[str, dict[str, object]] = {
    "grpc": {
        ALLOWED: "ok",
        UNAUTHENTICATED: "AuthenticationError",
        FORBIDDEN: "PermissionDeniedError",
    },
    "grpc-web": {ALLOWED: 0, UNAUTHENTICATED: 16, FORBIDDEN: 7},  # grpc-status
    "rest": {ALLOWED: 200, UNAUTHENTICATED: 401, FORBIDDEN: 403},
    "sse": {ALLOWED: 200, UNAUTHENTICATED: 401, FORBIDDEN: 403},
    "metrics": {ALLOWED: 200, UNAUTHENTICATED: 401, FORBIDDEN: 403},
    "kafka": {
        ALLOWED: None,  # the delivery report's error
        UNAUTHENTICATED: KafkaError._AUTHENTICATION,
        FORBIDDEN: KafkaError.TOPIC_AUTHORIZATION_FAILED,
    },
}


@dataclass(frozen=True)
class Credential:
    """What a client presents: nothing, a user's password, an API token or a JWT."""

    kind: str  # "none", "password", "token" (lw_…) or "jwt"
    secret: str = ""
    user: str = ""

    def authorization(self) -> dict[str, str]:
        """The HTTP header (REST, SSE, /metrics, gRPC-Web)."""
        if self.kind == "none":
            return {}
        if self.kind == "password":
            pair = base64.b64encode(f"{self.user}:{self.secret}".encode()).decode()
            return {"authorization": f"Basic {pair}"}
        return {"authorization": f"Bearer {self.secret}"}

    def grpc(self) -> dict[str, str]:
        """``logway.connect`` keyword arguments (the remote backend)."""
        if self.kind == "none":
            return {}
        if self.kind == "password":
            return {"user": self.user, "password": self.secret}
        return {"token": self.secret}

    def kafka(self) -> dict[str, Any]:
        """confluent-kafka settings: SCRAM for a password, OAUTHBEARER for a token or a
        JWT (KIP-255), no SASL at all for no credential."""
        if self.kind == "none":
            return {}
        if self.kind == "password":
            return {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-256",
                "sasl.username": self.user,
                "sasl.password": self.secret,
            }
        bearer = self.secret
        return {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "OAUTHBEARER",
            # the lifetime librdkafka is told, not the JWT's: the server is to judge it
            "oauth_cb": lambda _config: (bearer, time.time() + 300),
        }


@dataclass
class Site:
    """The server, the issuer whose JWTs it takes, the admin's view of the data
    directory (``file:``, through the server's socket: no checks), and every secret
    made for the tests."""

    server: LogwayServer
    issuer: Issuer
    admin: Broker
    tokens: dict[str, str]
    secrets: list[str] = field(default_factory=lambda: [PASSWORD, WRONG])

    def ends(self) -> dict[int, int]:
        return self.admin.end_offsets(TOPIC)

    def jwt(self, kid: str | None = None, /, **claims: Any) -> str:
        """A JWT from the issuer (its current key unless ``kid``); its signature is
        remembered as a secret."""
        token = self.issuer.token(kid or self.issuer.published[0], jti=uuid.uuid4().hex, **claims)
        self.secrets.append(token.split(".")[2])
        return token


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    issuer = Issuer()
    issuer.add_key("k1")
    issuer.add_key("attacker", publish=False)  # signs forgeries
    issuer.add_key("stranger", publish=False)  # a key id the issuer never published
    data: Path = tmp_path_factory.mktemp("door-matrix") / "data"
    oidc = ("--oidc-issuer", ISSUER, "--oidc-jwks-url", issuer.url, "--oidc-audience", AUDIENCE)
    server = LogwayServer(data, "--auth", *oidc, "--oidc-groups-claim", "cognito:groups")
    server.start()
    admin = logway.connect(f"file:{data}")
    found: Site | None = None
    try:
        admin.create_topic(TOPIC, partitions=2)
        admin.produce(TOPIC, b"for the streams to read", key=b"k")
        store = AuthStore(admin, iterations=4096)
        store.add_user("ada", PASSWORD, ["authors"])
        store.add_user("bob", PASSWORD, ["guests"])
        for door in DOORS:  # one per door: a failed sign-in slows the next ones of its name
            store.add_user(f"wp-{door}", PASSWORD, ["authors"])
        store.add_acl(Acl.of("Group:authors", "all", "topic", TOPIC))
        store.add_acl(Acl.of("Group:authors", "describe", "cluster", "cluster"))  # /metrics
        # guests may see the topic (Kafka clients ask its metadata first), not use it
        store.add_acl(Acl.of("Group:guests", "describe", "topic", TOPIC))
        tokens = {"ada": store.create_token("matrix", "ada", "1d")}
        tokens["revoked"] = store.create_token("gone", "ada", "1d")
        store.revoke_token(tokens["revoked"].split("_")[1])
        found = Site(server, issuer, admin, tokens)
        found.secrets.extend(tokens.values())
        yield found
    finally:
        admin.close()
        code = server.stop()
        issuer.close()
        output = "".join(server.output)
        assert code == 0, output[-3000:]
        if found is not None:
            _assert_no_secret(found, output)


def _assert_no_secret(site: Site, output: str) -> None:
    printed = [secret[:12] + "…" for secret in site.secrets if secret in output]
    assert not printed, f"secrets in the server's output: {printed}"


# --- the doors: one request each, the door's own answer --------------------------------


def _grpc(site: Site, credential: Credential) -> object:
    with logway.connect(site.server.url, **credential.grpc()) as broker:
        try:
            broker.produce(TOPIC, b"over gRPC", key=b"k")
        except AuthenticationError:
            return "AuthenticationError"
        except PermissionDeniedError:
            return "PermissionDeniedError"
    return "ok"


def _grpc_web(site: Site, credential: Credential) -> object:
    request = pb.ProduceRequest(topic=TOPIC, records=[pb.ProduceRecord(value=b"over gRPC-Web")])
    with client(site.server.http) as http:  # an address of its own: see http_clients
        reply = grpc_web(
            http, "logway.v1.Log/Produce", request.SerializeToString(), **credential.authorization()
        )
    assert reply.http_status == 200, reply
    return reply.status


def _rest(site: Site, credential: Credential) -> object:
    with client(site.server.http, credential.authorization()) as http:
        response = http.post(f"/v1/topics/{TOPIC}/records", json={"records": [{"value": "rest"}]})
    if response.status_code == 200:
        assert len(response.json()["records"]) == 1, response.text
    return response.status_code


def _sse(site: Site, credential: Credential) -> object:
    with (
        client(site.server.http, credential.authorization()) as http,
        http.stream("GET", f"/v1/topics/{TOPIC}/stream") as response,
    ):
        if response.status_code == 200:
            first = next(events(response))
            assert first.event == "record", first
        else:
            response.read()
        return response.status_code


def _metrics(site: Site, credential: Credential) -> object:
    with client(site.server.http, credential.authorization()) as http:
        response = http.get("/metrics")
    if response.status_code == 200:
        assert "# TYPE" in response.text  # Prometheus's text format
    return response.status_code


def _kafka(site: Site, credential: Credential) -> object:
    """The delivery report's error (None: stored), or the first error the client
    reported (a refused sign-in: the message is never sent)."""
    errors: list[KafkaError] = []
    reports: list[KafkaError | None] = []
    settings = {"bootstrap.servers": site.server.kafka, "error_cb": errors.append}
    producer = Producer({**settings, **ONE_ATTEMPT, **credential.kafka()})
    producer.produce(TOPIC, b"over Kafka", on_delivery=lambda error, _m: reports.append(error))
    deadline = time.monotonic() + WAIT_S
    while not (errors or reports) and time.monotonic() < deadline:
        try:
            producer.poll(0.05)
        except KafkaException as exc:  # a fatal error is raised by poll too
            errors.append(exc.args[0])
    if reports:
        answer = None if reports[0] is None else reports[0].code()
    else:
        assert errors, "the Kafka client reported neither a delivery nor an error"
        answer = errors[0].code()
    producer.purge()  # a refused message: not sent again later
    producer.flush(0)
    return answer


REQUEST: dict[str, Callable[[Site, Credential], object]] = {
    "grpc": _grpc,
    "grpc-web": _grpc_web,
    "rest": _rest,
    "sse": _sse,
    "metrics": _metrics,
    "kafka": _kafka,
}


def check_cell(
    site: Site,
    door: str,
    credential: Credential,
    outcome: str,
    accepted: tuple[object, ...] | None = None,
) -> None:
    """Ask ``door`` once with ``credential``: its answer is the one for ``outcome`` (or
    one of ``accepted``), a refusal stored nothing, an allowed write stored exactly one
    record."""
    accepted = accepted or (ANSWERS[door][outcome],)
    before = site.ends()
    answer = REQUEST[door](site, credential)
    assert answer in accepted, f"{door} answered {answer!r}, not {accepted} ({outcome})"
    after = site.ends()
    if outcome == ALLOWED and door in WRITERS:
        assert after.keys() == before.keys()
        assert sum(after.values()) == sum(before.values()) + 1, (before, after)
    else:
        assert after == before


# --- the matrix ---------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class Case:
    name: str
    outcome: str
    credential: Callable[[Site, str], Credential]  # (site, door) -> what is presented


CASES = [  # in this order: the valid JWTs before any failed one (see the docstring)
    Case("allowed-password", ALLOWED, lambda s, d: Credential("password", PASSWORD, "ada")),
    Case("allowed-token", ALLOWED, lambda s, d: Credential("token", s.tokens["ada"])),
    Case(
        "allowed-jwt",
        ALLOWED,
        lambda s, d: Credential("jwt", s.jwt(sub="oidc-ada", **{"cognito:groups": ["authors"]})),
    ),
    Case("forbidden-password", FORBIDDEN, lambda s, d: Credential("password", PASSWORD, "bob")),
    Case(
        "forbidden-jwt",
        FORBIDDEN,
        lambda s, d: Credential("jwt", s.jwt(sub="oidc-eve", **{"cognito:groups": ["guests"]})),
    ),
    Case("no-credential", UNAUTHENTICATED, lambda s, d: Credential("none")),
    # a user who may write, with a wrong password (SCRAM's proof of it on Kafka)
    Case("wrong-password", UNAUTHENTICATED, lambda s, d: Credential("password", WRONG, f"wp-{d}")),
    Case("revoked-token", UNAUTHENTICATED, lambda s, d: Credential("token", s.tokens["revoked"])),
    # signed by a key the issuer never published, under the kid of one it did
    Case(
        "forged-jwt",
        UNAUTHENTICATED,
        lambda s, d: Credential("jwt", s.jwt(signer="attacker")),
    ),
    Case(
        "expired-jwt",  # ten minutes ago: well beyond the 60 s leeway
        UNAUTHENTICATED,
        lambda s, d: Credential("jwt", s.jwt(iat=_now() - 900, exp=_now() - 600)),
    ),
    Case(
        "wrong-audience",
        UNAUTHENTICATED,
        lambda s, d: Credential("jwt", s.jwt(aud="someone-else")),
    ),
    Case("unknown-kid", UNAUTHENTICATED, lambda s, d: Credential("jwt", s.jwt("stranger"))),
]

# Combinations that do not apply, left out of the matrix. None at present: every door
# takes every kind of credential — Basic passwords on gRPC (user=/password=), gRPC-Web,
# REST, SSE and /metrics, SCRAM on the Kafka port; Bearer API tokens and JWTs on the
# HTTP doors and gRPC, OAUTHBEARER on the Kafka port; and every door can be called with
# nothing. A door that stopped taking one would be listed here, with why.
NOT_APPLICABLE: dict[tuple[str, str], str] = {}
# Cells whose door answers otherwise, and why.
SPECIAL_ANSWERS: dict[tuple[str, str], tuple[object, ...]] = {
    # Kafka has no error code for a client that skips SASL: the port closes the
    # connection (as a Kafka SASL listener does), which librdkafka reports as a lost
    # connection and, there being one broker, all brokers down, in either order. The
    # port's log line says why (checked in the test).
    ("kafka", "no-credential"): (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN),
}
CELLS = [
    pytest.param(door, case, id=f"{door}-{case.name}")
    for case in CASES
    for door in DOORS
    if (door, case.name) not in NOT_APPLICABLE
]


def test_keys_rotate_mid_module_and_the_new_key_works_on_every_door(site: Site) -> None:
    """The issuer's first key works everywhere; then it rotates, and a token signed with
    the new key works everywhere (the server reads the issuer's keys again). The retired
    key is tried after the matrix (``test_the_retired_key_is_refused_on_every_door``):
    here it would slow the valid JWTs of the matrix."""
    assert site.issuer.published == ["k1"]
    for door in DOORS:
        check_cell(site, door, Credential("jwt", site.jwt("k1")), ALLOWED)
    read_before = site.issuer.fetches
    site.issuer.rotate("k2")
    assert site.issuer.published == ["k2"]
    for door in DOORS:
        check_cell(site, door, Credential("jwt", site.jwt("k2")), ALLOWED)
    assert site.issuer.fetches == read_before + 1  # the new key id sent the server to look


@pytest.mark.parametrize(("door", "case"), CELLS)
def test_every_door_with_every_credential(
    site: Site, door: str, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOGWAY_TOKEN", raising=False)  # "no credential" must mean none
    mark = site.server.mark()
    credential = case.credential(site, door)
    check_cell(site, door, credential, case.outcome, SPECIAL_ANSWERS.get((door, case.name)))
    if (door, case.name) == ("kafka", "no-credential"):
        site.server.wait_for_line("before authenticating: this port takes SASL first", mark)


def test_the_retired_key_is_refused_on_every_door(site: Site) -> None:
    """After the rotation (and the matrix): the first key's tokens are refused. The
    doors are asked at once: each refused JWT makes the next one wait."""
    assert "k1" not in site.issuer.published
    retired = {door: Credential("jwt", site.jwt("k1")) for door in DOORS}
    with ThreadPoolExecutor(len(DOORS)) as pool:
        done = [
            pool.submit(check_cell, site, door, retired[door], UNAUTHENTICATED) for door in DOORS
        ]
    for future in done:
        future.result()


def test_failed_jwts_elsewhere_do_not_slow_a_valid_one(site: Site) -> None:
    """Failed sign-ins are slowed per user name and per address (logway.server.access).
    A JWT's user is not known until it is verified, so its failures can only count for
    the address they came from: a valid JWT from an address that never failed is
    answered without a wait."""
    forged = [Credential("jwt", site.jwt(signer="attacker")) for _ in range(8)]
    with ThreadPoolExecutor(len(forged)) as pool:  # each from an address of its own
        for answer in pool.map(lambda c: _rest(site, c), forged):
            assert answer == 401
    valid = Credential("jwt", site.jwt(sub="oidc-ada", **{"cognito:groups": ["authors"]}))
    began = time.monotonic()
    assert _rest(site, valid) == 200  # from a fresh address
    took = time.monotonic() - began
    assert took < 1.0, f"a valid JWT waited {took:.1f}s for other callers' failures"


def test_no_secret_reached_the_server_output(site: Site) -> None:
    """No password, API token or JWT signature in what the server printed (checked
    again once it has stopped)."""
    _assert_no_secret(site, "".join(site.server.output))
