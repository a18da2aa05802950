"""SASL on the Kafka port: what a connection goes through before any other request
when ``logway serve --auth`` is on, in the order Kafka's ``SaslServerAuthenticator``
(clients/src/main/java/org/apache/kafka/common/security/authenticator) keeps.

- First ApiVersions (answered once) and SaslHandshake. Any other request before
  authentication closes the connection unanswered, as Kafka does (a client left
  without ``security.protocol=SASL_…``, say), unless anonymous access is allowed
  (``--allow-anonymous``): then the connection goes on as ``User:ANONYMOUS``; or the
  client presented a certificate the client CA verified (mutual TLS): then it goes on
  as ``User:`` + the certificate's common name.
- SaslHandshake names a mechanism. One of ``mechanisms(tls)`` is answered NONE with
  the list; any other UNSUPPORTED_SASL_MECHANISM with the list, and the connection is
  closed. PLAIN carries the password itself, so it is offered only over TLS
  (``logway serve --tls-cert``: ``KafkaListener.tls``); SCRAM-SHA-256 and -512 prove
  the password without sending it (``logway.auth.scram``); OAUTHBEARER carries an
  OpenID Connect JWT or a logway API token, checked as at every door.
- After handshake v1 (KIP-152) each SASL token comes in a SaslAuthenticate request and
  any other request closes the connection; after handshake v0 the tokens come bare,
  each after its 4-byte size, and are answered the same way.
- A failed proof is answered SASL_AUTHENTICATION_FAILED with Kafka's message, which
  names neither the user nor a secret (a bare v0 token gets no answer), and the
  connection is closed. ``Access`` counts the failure, writes it to the audit trail
  and makes the next attempts for that user or address wait, as at every door.
- Once authenticated the connection serves every API as that principal. A later
  SaslHandshake or SaslAuthenticate is answered ILLEGAL_SASL_STATE (re-authentication,
  KIP-368, is not asked for: the session lifetime is 0), and so is a SaslHandshake
  when authentication is off, as Kafka's ``KafkaApis`` answers on a PLAINTEXT listener.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
from typing import Any, NamedTuple

from kio.schema.errors import ErrorCode

from logway.auth import scram
from logway.errors import AuthenticationError
from logway.server.access import ANONYMOUS_IDENTITY, Access, Identity
from logway.server.kafka import groups, versions, wire
from logway.server.kafka.door import Door

log = logging.getLogger("logway.server.kafka")

SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
MAX_RECEIVE = 512 * 1024  # Kafka's sasl.server.max.receive.size: a frame before sign-in
PLAIN = "PLAIN"
OAUTHBEARER = "OAUTHBEARER"
SCRAM = tuple(scram.MECHANISMS)  # SCRAM-SHA-256, SCRAM-SHA-512
NO_REAUTHENTICATION = dt.timedelta(0)  # session lifetime 0: none asked (KIP-368)
MAX_NAME = 128  # longer names are no user's: a failure is counted under the first 128
_SIZE = struct.Struct(">i")


def mechanisms(tls: bool, bearer: bool = True) -> tuple[str, ...]:
    """The mechanisms offered: SCRAM and OAUTHBEARER (``bearer``) always, PLAIN (the
    password in the clear) only on a TLS connection."""
    return (*SCRAM, *((OAUTHBEARER,) if bearer else ()), *((PLAIN,) if tls else ()))


def failure_message(mechanism: str) -> str:
    """Kafka's answer to a failed proof: no user name (it would tell who exists), no
    secret."""
    return (
        "Authentication failed during authentication due to invalid credentials with "
        f"SASL mechanism {mechanism}"
    )


class Step(NamedTuple):
    """What to do after one frame: send ``reply`` (if any), then close the connection
    if ``close``; ``passed``: the frame is no SASL request and is served as any other
    (by an anonymous caller)."""

    reply: bytes | None = None
    close: bool = False
    passed: bool = False


def _scram_user(token: bytes) -> str:
    """The user a SCRAM client-first message names ("" if none), to pace attempts by:
    ``gs2-cbind-flag,[authzid],n=NAME,r=NONCE``."""
    parts = token[: 4 * MAX_NAME].decode("utf-8", "replace").split(",", 3)
    if len(parts) < 3 or not parts[2].startswith("n="):
        return ""
    return parts[2][2 : 2 + MAX_NAME].replace("=2C", ",").replace("=3D", "=")


class _Scram:
    """A SCRAM exchange (RFC 5802): client-first, then client-final with the proof."""

    def __init__(self, mechanism: str, access: Access, address: str):
        self.mechanism = mechanism
        self.access = access
        self.address = address
        self.user = ""
        self.server = scram.ScramServer(mechanism, self._credential)

    def _credential(self, username: str, mechanism: str) -> scram.ScramCredential | None:
        store = self.access.store
        assert store is not None
        found = store.scram_credential(username, mechanism)
        if found is None and store.user(username) is None and self.access.refresh():
            found = store.scram_credential(username, mechanism)  # added a moment ago
        return found

    async def step(self, token: bytes) -> tuple[bytes, Identity | None]:
        """The token to answer with, and the caller once the proof is checked."""
        if self.server.state == "client-first":
            self.user = _scram_user(token)
            await self.access.before_proof(self.user, self.address)
            try:
                return self.server.first(token), None
            except AuthenticationError as exc:
                raise self.access.proof_failed(self.user, self.address, str(exc)) from None
        try:
            answer = self.server.final(token)
        except AuthenticationError as exc:
            raise self.access.proof_failed(self.user, self.address, str(exc)) from None
        assert self.server.username is not None
        return answer, self.access.proof_accepted(self.server.username, "scram")


class _Plain:
    """PLAIN (RFC 4616): ``[authzid] NUL user NUL password``, one message, checked as a
    password sign-in. Offered only over TLS."""

    mechanism = PLAIN

    def __init__(self, access: Access, address: str):
        self.access = access
        self.address = address
        self.user = ""

    async def step(self, token: bytes) -> tuple[bytes, Identity | None]:
        parts = token.split(b"\0")
        if len(parts) != 3:
            raise self.access.proof_failed("", self.address, "a malformed PLAIN message")
        try:
            authzid, name, password = (p.decode() for p in parts)
        except UnicodeDecodeError:
            raise self.access.proof_failed(
                "", self.address, "a PLAIN message not in UTF-8"
            ) from None
        self.user = name[:MAX_NAME]
        if authzid and authzid != name:
            raise self.access.proof_failed(
                self.user, self.address, "PLAIN with an authorization id other than the user"
            )
        return b"", await self.access.sign_in(name, password, self.address)


class _OAuthBearer:
    """OAUTHBEARER (RFC 7628, KIP-255): one client message, ``GS2 header`` then
    ``\x01auth=Bearer TOKEN\x01…\x01\x01``. The token is checked as at every door: an
    OpenID Connect JWT (with ``--oidc-issuer``) or a logway API token."""

    mechanism = OAUTHBEARER

    def __init__(self, access: Access, address: str):
        self.access = access
        self.address = address
        self.user = ""

    async def step(self, token: bytes) -> tuple[bytes, Identity | None]:
        header, sep, rest = token.partition(b"\x01")
        fields = dict(part.split(b"=", 1) for part in rest.split(b"\x01") if b"=" in part)
        auth = fields.get(b"auth", b"")
        if not sep or not header.startswith((b"n,", b"y,")) or not auth.startswith(b"Bearer "):
            raise self.access.proof_failed("", self.address, "a malformed OAUTHBEARER message")
        try:
            bearer = auth.decode()
        except UnicodeDecodeError:
            raise self.access.proof_failed("", self.address, "a token not in UTF-8") from None
        return b"", await self.access.identify(bearer, self.address)


class Authenticator:
    """One connection's way to an identity: feed it each frame (``receive``) until
    ``who`` is set, or a step says to close."""

    def __init__(
        self,
        access: Access,
        offered: tuple[str, ...],
        peer: Any,
        address: str,
        certificate: Identity | None = None,
    ):
        """``certificate``: who a verified client certificate names (mutual TLS), for a
        client that sends no SASL (Kafka's SSL listener takes its principal so)."""
        self.access = access
        self.offered = offered
        self.peer = peer
        self.address = address
        self.certificate = certificate
        self.versions_answered = False
        self.bare = False  # handshake v0: tokens without SaslAuthenticate around them
        self.exchange: _Scram | _Plain | _OAuthBearer | None = None
        self.who: Identity | None = None

    def _close(self, why: str) -> Step:
        log.warning("closing the Kafka connection from %s: %s", self.peer, why)
        return Step(close=True)

    def _parse(self, frame: bytes, api_key: int, version: int) -> Any:
        """The request, or None if it does not parse (then the connection closes)."""
        cls = wire.request_type(api_key, version)
        assert cls is not None
        try:
            header = wire.read_header(frame, bool(cls.__flexible__))
            return wire.parse(cls, frame, header.body)
        except wire.FrameError as exc:
            log.warning("closing the Kafka connection from %s: %s", self.peer, exc)
            return None

    async def receive(self, frame: bytes) -> Step:
        if self.exchange is not None and self.bare:
            return await self._bare_token(frame)
        try:
            api_key, version, correlation_id = wire.peek_header(frame)
        except wire.FrameError as exc:
            return self._close(str(exc))
        if self.exchange is not None:
            return await self._authenticate(frame, api_key, version, correlation_id)
        if api_key == wire.API_VERSIONS:
            return self._api_versions(frame, version, correlation_id)
        if api_key == SASL_HANDSHAKE:
            return self._handshake(frame, version, correlation_id)
        if self.certificate is not None:  # mutual TLS: the certificate says who
            self.who = self.certificate
            return Step(passed=True)
        if self.access.allow_anonymous:
            self.who = ANONYMOUS_IDENTITY
            return Step(passed=True)
        name = versions.NAMES.get(api_key, f"API key {api_key}")
        return self._close(
            f"it sent {name} before authenticating: this port takes SASL first "
            f"({', '.join(self.offered)}); set security.protocol=SASL_PLAINTEXT and "
            "sasl.mechanism in the client"
        )

    def _api_versions(self, frame: bytes, version: int, correlation_id: int) -> Step:
        if self.versions_answered:  # Kafka: one ApiVersions, then the handshake
            return self._close("it sent ApiVersions again instead of SaslHandshake")
        if not versions.served(wire.API_VERSIONS, version):
            # answered in v0's body so the client can retry with a version both speak
            error = versions.api_versions(0, ErrorCode.unsupported_version)
            return Step(wire.encode_response(correlation_id, error))
        if self._parse(frame, wire.API_VERSIONS, version) is None:
            return Step(close=True)
        self.versions_answered = True
        return Step(wire.encode_response(correlation_id, versions.api_versions(version)))

    def _handshake(self, frame: bytes, version: int, correlation_id: int) -> Step:
        if not versions.served(SASL_HANDSHAKE, version):
            return self._close(f"it asked for SaslHandshake version {version}, not served")
        request = self._parse(frame, SASL_HANDSHAKE, version)
        if request is None:
            return Step(close=True)
        mechanism = request.mechanism
        k = SASL_HANDSHAKE
        if mechanism not in self.offered:
            refused = wire.make(
                k,
                version,
                "SaslHandshakeResponse",
                error_code=ErrorCode.unsupported_sasl_mechanism,
                mechanisms=self.offered,
            )
            why = (
                "PLAIN sends the password itself, so it is offered only over TLS "
                "(logway serve --tls-cert/--tls-key)"
                if mechanism == PLAIN
                else "it is not offered"
            )
            log.warning(
                "closing the Kafka connection from %s: it asked for SASL mechanism %r; %s "
                "(offered: %s)",
                self.peer,
                mechanism[:40],
                why,
                ", ".join(self.offered),
            )
            return Step(wire.encode_response(correlation_id, refused), close=True)
        self.bare = version == 0
        if mechanism == PLAIN:
            self.exchange = _Plain(self.access, self.address)
        elif mechanism == OAUTHBEARER:
            self.exchange = _OAuthBearer(self.access, self.address)
        else:
            self.exchange = _Scram(mechanism, self.access, self.address)
        accepted = wire.make(
            k,
            version,
            "SaslHandshakeResponse",
            error_code=ErrorCode.none,
            mechanisms=self.offered,
        )
        return Step(wire.encode_response(correlation_id, accepted))

    async def _authenticate(
        self, frame: bytes, api_key: int, version: int, correlation_id: int
    ) -> Step:
        assert self.exchange is not None
        if api_key != SASL_AUTHENTICATE:
            name = versions.NAMES.get(api_key, f"API key {api_key}")
            return self._close(f"it sent {name} in the middle of SASL authentication")
        if not versions.served(SASL_AUTHENTICATE, version):
            return self._close(f"it asked for SaslAuthenticate version {version}, not served")
        request = self._parse(frame, SASL_AUTHENTICATE, version)
        if request is None:
            return Step(close=True)
        k = SASL_AUTHENTICATE
        try:
            token, who = await self.exchange.step(bytes(request.auth_bytes))
        except AuthenticationError:
            self._failed()
            refused = wire.make(
                k,
                version,
                "SaslAuthenticateResponse",
                error_code=ErrorCode.sasl_authentication_failed,
                error_message=failure_message(self.exchange.mechanism),
                auth_bytes=b"",
                session_lifetime=NO_REAUTHENTICATION,
            )
            return Step(wire.encode_response(correlation_id, refused), close=True)
        self.who = who
        answer = wire.make(
            k,
            version,
            "SaslAuthenticateResponse",
            error_code=ErrorCode.none,
            error_message=None,
            auth_bytes=token,
            session_lifetime=NO_REAUTHENTICATION,
        )
        return Step(wire.encode_response(correlation_id, answer))

    async def _bare_token(self, frame: bytes) -> Step:
        assert self.exchange is not None
        try:
            token, who = await self.exchange.step(frame)
        except AuthenticationError:
            self._failed()
            return Step(close=True)
        self.who = who
        return Step(_SIZE.pack(len(token)) + token)

    def _failed(self) -> None:
        assert self.exchange is not None
        log.warning(
            "closing the Kafka connection from %s: SASL %s authentication of user %r failed",
            self.peer,
            self.exchange.mechanism,
            self.exchange.user,
        )


# --- once authenticated, or with authentication off ----------------------------------


async def handle_handshake(door: Door, version: int, request: Any) -> Any:
    """ILLEGAL_SASL_STATE, as Kafka's ``KafkaApis`` answers a handshake that comes after
    authentication or on a listener without SASL."""
    if not door.secured:
        _client_id, host = groups.CLIENT.get()
        log.warning(
            "a Kafka client at %s asked for SASL (%s), but this server runs without "
            "--auth: answered ILLEGAL_SASL_STATE; turn SASL off in the client, or serve "
            "with --auth",
            host.lstrip("/") or "?",
            str(request.mechanism)[:40],
        )
    return wire.make(
        SASL_HANDSHAKE,
        version,
        "SaslHandshakeResponse",
        error_code=ErrorCode.illegal_sasl_state,
        mechanisms=(),
    )


async def handle_authenticate(door: Door, version: int, request: Any) -> Any:
    """ILLEGAL_SASL_STATE with Kafka's message (``KafkaApis``)."""
    return wire.make(
        SASL_AUTHENTICATE,
        version,
        "SaslAuthenticateResponse",
        error_code=ErrorCode.illegal_sasl_state,
        error_message="SaslAuthenticate request received after successful authentication",
        auth_bytes=b"",
        session_lifetime=NO_REAUTHENTICATION,
    )


HANDLERS = {SASL_HANDSHAKE: handle_handshake, SASL_AUTHENTICATE: handle_authenticate}
