"""SCRAM verifiers and the server side of the exchange: RFC 7677's example, a client
written here (RFC 5802's client steps), and every way an exchange can go wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import pytest

from logway.auth.scram import (
    MIN_ITERATIONS,
    ScramCredential,
    ScramServer,
    escape_name,
    make_credential,
    verify,
)
from logway.errors import AuthenticationError, InvalidArgumentError

# RFC 7677 section 3
RFC_CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC_SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC_CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC_SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


def rfc_lookup(user: str, mechanism: str) -> ScramCredential | None:
    if user != "user":
        return None
    return make_credential("pencil", mechanism, 4096, RFC_SALT)


class Client:
    """The client side of RFC 5802, written from the RFC for these tests."""

    def __init__(
        self,
        user: str,
        password: str,
        mechanism: str,
        nonce: str = "fyko+d2lbbFgONR",
        final_nonce: Callable[[str, str], str] = lambda mine, combined: combined,
    ):
        """``final_nonce(client nonce, combined nonce)``: what the final message sends."""
        self.user, self.password, self.hash = user, password, HASHES[mechanism]
        self.nonce = nonce
        self.final_nonce = final_nonce
        self.bare = f"n={escape_name(user)},r={nonce}"

    def first(self) -> bytes:
        return f"n,,{self.bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode()
        attrs = dict(part.split("=", 1) for part in text.split(","))
        assert attrs["r"].startswith(self.nonce)
        salted = hashlib.pbkdf2_hmac(
            self.hash, self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
        )
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = hashlib.new(self.hash, client_key).digest()
        without_proof = f"c=biws,r={self.final_nonce(self.nonce, attrs['r'])}"
        self.auth_message = f"{self.bare},{text},{without_proof}".encode()
        signature = hmac.new(stored_key, self.auth_message, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self.server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def check(self, server_final: bytes) -> bool:
        expected = hmac.new(self.server_key, self.auth_message, self.hash).digest()
        return server_final.decode() == "v=" + base64.b64encode(expected).decode()


def test_rfc_7677_example_exchange() -> None:
    server = ScramServer("SCRAM-SHA-256", rfc_lookup, nonce=RFC_SERVER_NONCE)
    assert server.first(RFC_CLIENT_FIRST.encode()).decode() == RFC_SERVER_FIRST
    assert not server.done and server.username is None
    assert server.final(RFC_CLIENT_FINAL.encode()).decode() == RFC_SERVER_FINAL
    assert server.done and server.username == "user"


def test_rfc_7677_example_with_a_wrong_proof_fails() -> None:
    server = ScramServer("SCRAM-SHA-256", rfc_lookup, nonce=RFC_SERVER_NONCE)
    server.first(RFC_CLIENT_FIRST)
    bad = RFC_CLIENT_FINAL[:-6] + "AAAAA="
    with pytest.raises(AuthenticationError, match="invalid user name or password"):
        server.final(bad)
    assert server.state == "failed" and not server.done and server.username is None


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_own_client_authenticates_and_checks_the_server(mechanism: str) -> None:
    credential = make_credential("correct horse", mechanism, 4096)
    server = ScramServer(mechanism, lambda u, m: credential if u == "a,b=c" else None)
    client = Client("a,b=c", "correct horse", mechanism)  # a name that needs escaping
    answer = server.final(client.final(server.first(client.first())))
    assert server.done and server.username == "a,b=c"
    assert client.check(answer)


@pytest.mark.parametrize(
    ("user", "password"), [("ada", "wrong"), ("nobody", "correct horse")], ids=["password", "user"]
)
def test_wrong_password_and_unknown_user_fail_alike(user: str, password: str) -> None:
    credential = make_credential("correct horse", "SCRAM-SHA-256", 4096)
    server = ScramServer("SCRAM-SHA-256", lambda u, m: credential if u == "ada" else None)
    client = Client(user, password, "SCRAM-SHA-256")
    server_first = server.first(client.first())
    assert b",s=" in server_first and b",i=" in server_first  # an unknown user gets a salt too
    with pytest.raises(AuthenticationError) as failure:
        server.final(client.final(server_first))
    assert str(failure.value) == "SCRAM authentication failed: invalid user name or password"
    assert not server.done


def test_unknown_user_gets_the_same_salt_each_time() -> None:
    firsts = []
    for _ in range(2):
        server = ScramServer("SCRAM-SHA-256", lambda u, m: None, nonce="n")
        firsts.append(server.first(b"n,,n=ghost,r=abc"))
    assert firsts[0] == firsts[1]


@pytest.mark.parametrize(
    "message",
    [
        "",
        "n,,",
        "x,,n=user,r=abc",
        "p=tls-unique,,n=user,r=abc",
        "n,,r=abc,n=user",
        "n,,n=,r=abc",
        "n,,n=user,r=a,b",
        "n,,n=us=er,r=abc",
        "n,,m=ext,n=user,r=abc",
        "n,a=other,n=user,r=abc",
    ],
)
def test_malformed_client_first_is_refused(message: str) -> None:
    server = ScramServer("SCRAM-SHA-256", rfc_lookup)
    with pytest.raises(AuthenticationError, match="SCRAM authentication failed"):
        server.first(message)
    assert server.state == "failed"
    with pytest.raises(AuthenticationError, match="out of turn"):
        server.final(RFC_CLIENT_FINAL)


@pytest.mark.parametrize(
    "final",
    [
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",  # no proof
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",  # binding
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=not base64!",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",  # short proof
    ],
    ids=["no-proof", "binding", "nonce", "base64", "short"],
)
def test_bad_client_final_is_refused(final: str) -> None:
    server = ScramServer("SCRAM-SHA-256", rfc_lookup, nonce=RFC_SERVER_NONCE)
    server.first(RFC_CLIENT_FIRST)
    with pytest.raises(AuthenticationError):
        server.final(final)
    assert not server.done


def test_messages_out_of_turn_are_refused() -> None:
    server = ScramServer("SCRAM-SHA-256", rfc_lookup, nonce=RFC_SERVER_NONCE)
    with pytest.raises(AuthenticationError, match="out of turn"):
        server.final(RFC_CLIENT_FINAL)
    server = ScramServer("SCRAM-SHA-256", rfc_lookup, nonce=RFC_SERVER_NONCE)
    server.first(RFC_CLIENT_FIRST)
    server.final(RFC_CLIENT_FINAL)
    with pytest.raises(AuthenticationError, match="out of turn"):
        server.first(RFC_CLIENT_FIRST)


def test_credential_holds_no_password_and_verifies_it() -> None:
    credential = make_credential("s3cret-pw", "SCRAM-SHA-512")
    assert len(credential.salt) >= 16 and credential.iterations >= MIN_ITERATIONS
    assert len(credential.stored_key) == len(credential.server_key) == 64
    assert "s3cret-pw" not in repr(credential.to_json())
    assert verify("s3cret-pw", credential)
    assert not verify("s3cret-pX", credential)
    assert not verify("", credential)
    again = ScramCredential.from_json("SCRAM-SHA-512", credential.to_json())
    assert again == credential
    assert make_credential("s3cret-pw").salt != make_credential("s3cret-pw").salt


@pytest.mark.parametrize(
    ("password", "mechanism", "iterations"),
    [("", "SCRAM-SHA-256", 4096), ("pw", "SCRAM-SHA-1", 4096), ("pw", "SCRAM-SHA-256", 1000)],
)
def test_bad_credential_input_is_refused(password: str, mechanism: str, iterations: int) -> None:
    with pytest.raises(InvalidArgumentError):
        make_credential(password, mechanism, iterations)


def test_bad_server_nonce_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="nonce"):
        ScramServer("SCRAM-SHA-256", rfc_lookup, nonce="a,b")


@pytest.mark.parametrize(
    ("sent", "accepted"),
    [
        (lambda mine, combined: mine + combined, True),  # librdkafka < 2.6.1
        (lambda mine, combined: mine, False),  # the client's part alone
        (lambda mine, combined: combined[:-1], False),  # the server's part cut short
        (lambda mine, combined: mine + mine + combined, False),
        (lambda mine, combined: "x" + combined, False),
    ],
    ids=["doubled", "client-only", "truncated", "tripled", "prefixed"],
)
def test_the_final_nonce_must_hold_the_whole_server_nonce(
    sent: Callable[[str, str], str], accepted: bool
) -> None:
    """librdkafka before 2.6.1 (confluentinc/librdkafka#4895) sends its nonce twice;
    that form is taken, as Kafka 3.8.1-3.9 took it, and nothing else is."""
    credential = make_credential("correct horse", "SCRAM-SHA-256", 4096)
    server = ScramServer("SCRAM-SHA-256", lambda u, m: credential if u == "ada" else None)
    client = Client("ada", "correct horse", "SCRAM-SHA-256", final_nonce=sent)
    final = client.final(server.first(client.first()))
    if accepted:
        assert client.check(server.final(final)) and server.username == "ada"
    else:
        with pytest.raises(AuthenticationError):
            server.final(final)
        assert server.username is None
