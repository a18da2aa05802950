"""Passwords as SCRAM verifiers (RFC 5802, RFC 7677), and the server side of a SCRAM
exchange.

A password is never stored: only, per mechanism (SCRAM-SHA-256, SCRAM-SHA-512), a
random salt, an iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key"))
and ServerKey = HMAC(SaltedPassword, "Server Key"), which is what Kafka keeps for its
SCRAM users too. They let the server check a password (``verify``) or a client's
proof (``ScramServer``) without being able to log in as the user if they leak.

As Kafka's clients and broker do, the password is taken as its UTF-8 bytes, without
RFC 4013 SASLprep, so that a password means the same to logway as to a Kafka client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logway.errors import AuthenticationError, InvalidArgumentError

# SASL mechanism name -> hashlib name
MECHANISMS: dict[str, str] = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
MIN_ITERATIONS = 4096  # RFC 7677 section 4: at least 4096; Kafka's minimum too
DEFAULT_ITERATIONS = 8192
SALT_BYTES = 16
MAX_PASSWORD_BYTES = 1024


@dataclass(frozen=True)
class ScramCredential:
    """What is stored for one password and one mechanism."""

    mechanism: str
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    def to_json(self) -> dict[str, Any]:
        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        return {
            "salt": b64(self.salt),
            "iterations": self.iterations,
            "stored_key": b64(self.stored_key),
            "server_key": b64(self.server_key),
        }

    @classmethod
    def from_json(cls, mechanism: str, value: dict[str, Any]) -> ScramCredential:
        """The credential stored as ``to_json`` wrote it; ``ValueError`` if malformed."""
        if mechanism not in MECHANISMS:
            raise ValueError(f"unknown SCRAM mechanism {mechanism!r}")
        try:
            return cls(
                mechanism,
                base64.b64decode(value["salt"], validate=True),
                int(value["iterations"]),
                base64.b64decode(value["stored_key"], validate=True),
                base64.b64decode(value["server_key"], validate=True),
            )
        except (KeyError, TypeError, binascii.Error) as exc:
            raise ValueError(f"malformed {mechanism} credential: {exc}") from None


def check_password(password: object) -> str:
    """Refuse what cannot be a password: not a string, empty, or too long."""
    if not isinstance(password, str) or not password:
        raise InvalidArgumentError("a password must be a non-empty string")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidArgumentError(f"a password must be at most {MAX_PASSWORD_BYTES} bytes long")
    return password


def _hash_name(mechanism: str) -> str:
    try:
        return MECHANISMS[mechanism]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown SCRAM mechanism {mechanism!r}; known: {', '.join(MECHANISMS)}"
        ) from None


def salted_password(password: str, mechanism: str, salt: bytes, iterations: int) -> bytes:
    """RFC 5802 Hi(): PBKDF2 with HMAC of the mechanism's hash."""
    return hashlib.pbkdf2_hmac(_hash_name(mechanism), password.encode(), salt, iterations)


def _hmac(key: bytes, data: bytes, hash_name: str) -> bytes:
    return hmac.new(key, data, hash_name).digest()


def make_credential(
    password: str,
    mechanism: str = "SCRAM-SHA-256",
    iterations: int = DEFAULT_ITERATIONS,
    salt: bytes | None = None,
) -> ScramCredential:
    """The verifier of ``password`` under ``mechanism``, with a fresh random salt."""
    check_password(password)
    hash_name = _hash_name(mechanism)
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise InvalidArgumentError(f"iterations must be an integer, not {iterations!r}")
    if iterations < MIN_ITERATIONS:
        raise InvalidArgumentError(
            f"SCRAM needs at least {MIN_ITERATIONS} iterations (RFC 7677), not {iterations}"
        )
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    salted = salted_password(password, mechanism, salt, iterations)
    client_key = _hmac(salted, b"Client Key", hash_name)
    return ScramCredential(
        mechanism,
        salt,
        iterations,
        hashlib.new(hash_name, client_key).digest(),
        _hmac(salted, b"Server Key", hash_name),
    )


def verify(password: str, credential: ScramCredential) -> bool:
    """Whether ``password`` is the one ``credential`` was made from (the comparison
    takes the same time wherever the keys differ)."""
    if not isinstance(password, str):
        return False
    hash_name = _hash_name(credential.mechanism)
    salted = salted_password(password, credential.mechanism, credential.salt, credential.iterations)
    stored = hashlib.new(hash_name, _hmac(salted, b"Client Key", hash_name)).digest()
    return hmac.compare_digest(stored, credential.stored_key)


def dummy_credential(mechanism: str, username: str, secret: bytes) -> ScramCredential:
    """A credential no password matches, the same for a name on every call: an unknown
    user goes through the whole exchange and fails at the proof, as a wrong password
    does (RFC 5802 section 5.1), so the answers do not tell which users exist."""
    hash_name = _hash_name(mechanism)
    seed = _hmac(secret, f"{mechanism}\0{username}".encode(), hash_name)
    return ScramCredential(
        mechanism,
        seed[:SALT_BYTES],
        DEFAULT_ITERATIONS,
        _hmac(seed, b"stored", hash_name),
        _hmac(seed, b"server", hash_name),
    )


DUMMY_SECRET = secrets.token_bytes(32)  # per process: dummy salts are not predictable


def _attributes(message: str, what: str) -> list[tuple[str, str]]:
    """``a=value,b=value`` as pairs, in order; each attribute a single letter."""
    out = []
    for part in message.split(","):
        name, sep, value = part.partition("=")
        if not sep or len(name) != 1 or not name.isalpha():
            raise AuthenticationError(f"malformed SCRAM {what}: {part[:40]!r} is not an attribute")
        out.append((name, value))
    return out


def _unescape_name(name: str) -> str:
    """RFC 5802 saslname: ``=2C`` is ``,`` and ``=3D`` is ``=``; any other ``=`` is wrong."""
    out = name.replace("=2C", ",").replace("=3D", "=")
    if "=" in name.replace("=2C", "").replace("=3D", ""):
        raise AuthenticationError("malformed SCRAM user name: '=' must be sent as =3D")
    return out


def escape_name(name: str) -> str:
    """A user name as RFC 5802's saslname (for clients)."""
    return name.replace("=", "=3D").replace(",", "=2C")


def _printable_nonce(nonce: str) -> bool:
    # RFC 5802: printable ASCII except ','
    return bool(nonce) and all(0x21 <= ord(c) <= 0x7E and c != "," for c in nonce)


class ScramServer:
    """One SCRAM exchange, server side, as a state machine::

        server = ScramServer("SCRAM-SHA-256", store.scram_credential)
        server_first = server.first(client_first)  # -> send to the client
        server_final = server.final(client_final)  # -> send; server.username is the user

    ``lookup(username, mechanism)`` returns the user's credential or None. Any failure
    (malformed message, message out of turn, unknown user, wrong proof) raises
    ``AuthenticationError`` and ends the exchange; an unknown user fails at the proof,
    exactly as a wrong password does. Channel binding (the -PLUS mechanisms) is not
    offered: a client that requires it is refused. ``nonce`` fixes the server's part
    of the nonce (for test vectors); by default it is random.
    """

    def __init__(
        self,
        mechanism: str,
        lookup: Callable[[str, str], ScramCredential | None],
        nonce: str | None = None,
    ) -> None:
        self.mechanism = mechanism
        self._hash = _hash_name(mechanism)
        self._lookup = lookup
        self._server_nonce = secrets.token_urlsafe(24) if nonce is None else nonce
        if not _printable_nonce(self._server_nonce):
            raise InvalidArgumentError("a SCRAM nonce must be printable ASCII without ','")
        self.state = "client-first"  # -> client-final -> done | failed
        self.username: str | None = None  # set once the exchange succeeded
        self._claimed = ""
        self._credential: ScramCredential | None = None
        self._known = False
        self._gs2_header = ""
        self._nonce = ""
        self._client_first_bare = ""
        self._server_first = ""

    @property
    def done(self) -> bool:
        """Whether the exchange ended with the client authenticated."""
        return self.state == "done"

    def _fail(self, message: str) -> AuthenticationError:
        self.state = "failed"
        return AuthenticationError(message)

    def _expect(self, state: str) -> None:
        if self.state != state:
            raise self._fail(f"SCRAM message out of turn: expected {state}, in state {self.state}")

    def first(self, client_first: bytes | str) -> bytes:
        """Take the client-first message, return the server-first message."""
        self._expect("client-first")
        try:
            text = client_first.decode() if isinstance(client_first, bytes) else client_first
            return self._first(text).encode()
        except (AuthenticationError, UnicodeDecodeError) as exc:
            raise self._fail(f"SCRAM authentication failed: {exc}") from None

    def _first(self, text: str) -> str:
        # gs2-header = gs2-cbind-flag "," [ authzid ] ","
        cbind, _, rest = text.partition(",")
        authzid, sep, bare = rest.partition(",")
        if not sep:
            raise AuthenticationError("malformed client-first message")
        if cbind.startswith("p="):
            raise AuthenticationError("channel binding is not supported; use " + self.mechanism)
        if cbind not in ("n", "y"):
            raise AuthenticationError(f"malformed channel binding flag {cbind[:10]!r}")
        attrs = _attributes(bare, "client-first message")
        if len(attrs) < 2 or attrs[0][0] != "n" or attrs[1][0] != "r":
            raise AuthenticationError("client-first message must begin with n=USER,r=NONCE")
        if attrs[0][1] == "" or not _printable_nonce(attrs[1][1]):
            raise AuthenticationError("client-first message has an empty user or a bad nonce")
        if any(name == "m" for name, _ in attrs):
            raise AuthenticationError("mandatory extensions (m=) are not supported")
        username = _unescape_name(attrs[0][1])
        if authzid and (not authzid.startswith("a=") or _unescape_name(authzid[2:]) != username):
            raise AuthenticationError("an authorization identity other than the user")
        credential = self._lookup(username, self.mechanism)
        self._known = credential is not None
        if credential is None:
            credential = dummy_credential(self.mechanism, username, DUMMY_SECRET)
        self._claimed = username
        self._credential = credential
        self._gs2_header = f"{cbind},{authzid},"
        self._client_nonce = attrs[1][1]
        self._nonce = self._client_nonce + self._server_nonce
        self._client_first_bare = bare
        salt = base64.b64encode(credential.salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={credential.iterations}"
        self.state = "client-final"
        return self._server_first

    def final(self, client_final: bytes | str) -> bytes:
        """Take the client-final message, check the proof, return the server-final
        message (the server's signature, which the client checks in turn)."""
        self._expect("client-final")
        try:
            text = client_final.decode() if isinstance(client_final, bytes) else client_final
            answer = self._final(text)
        except (AuthenticationError, UnicodeDecodeError, binascii.Error) as exc:
            raise self._fail(f"SCRAM authentication failed: {exc}") from None
        self.state = "done"
        self.username = self._claimed
        return answer.encode()

    def _final(self, text: str) -> str:
        without_proof, sep, proof_attr = text.rpartition(",")
        if not sep or not proof_attr.startswith("p="):
            raise AuthenticationError("client-final message must end with p=PROOF")
        attrs = _attributes(without_proof, "client-final message")
        if len(attrs) < 2 or attrs[0][0] != "c" or attrs[1][0] != "r":
            raise AuthenticationError("client-final message must begin with c=...,r=...")
        expected_binding = base64.b64encode(self._gs2_header.encode()).decode()
        if attrs[0][1] != expected_binding:
            raise AuthenticationError("channel binding data does not match the gs2 header")
        # librdkafka before 2.6.1 (Debian's kcat among its users) sends its own nonce
        # twice, before the combined one (confluentinc/librdkafka#4895); Kafka 3.8.1-3.9
        # took that. The whole server nonce is still required, and the proof covers
        # the message as sent.
        if attrs[1][1] not in (self._nonce, self._client_nonce + self._nonce):
            raise AuthenticationError("the nonce is not the one of this exchange")
        proof = base64.b64decode(proof_attr[2:], validate=True)
        credential = self._credential
        assert credential is not None
        auth_message = ",".join((self._client_first_bare, self._server_first, without_proof))
        signature = _hmac(credential.stored_key, auth_message.encode(), self._hash)
        if len(proof) != len(signature):
            raise AuthenticationError("invalid proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        stored = hashlib.new(self._hash, client_key).digest()
        if not hmac.compare_digest(stored, credential.stored_key) or not self._known:
            raise AuthenticationError("invalid user name or password")
        server_signature = _hmac(credential.server_key, auth_message.encode(), self._hash)
        return "v=" + base64.b64encode(server_signature).decode()
