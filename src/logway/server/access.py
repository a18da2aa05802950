"""Who is calling, and what they may do: one ``Access`` checks every door the same way.

A door (gRPC, gRPC-Web, REST, SSE, ``/metrics``, the Kafka port) turns what a client
presents into an ``Identity`` with ``identify`` (an ``Authorization`` header) or
``sign_in`` (a user name and password, as the Kafka port's SASL gives them), then asks
``check`` before each request touches the log. With authentication off (the default
on loopback) every caller is the open identity and ``check`` allows everything.

With it on:

- With mutual TLS, a request without credentials whose client certificate the TLS
  layer verified is ``User:`` + the certificate subject's common name.
- ``Authorization: Bearer lw_…`` is an API token, ``Bearer`` + a JWT an OpenID
  Connect token (when an ``OidcVerifier`` is given), ``Basic …`` a user's password;
  a request without credentials is ``User:ANONYMOUS`` when anonymous access is
  allowed (and then may do what ACLs allow ``User:ANONYMOUS`` or ``User:*``), else
  refused. A successful password check is remembered (keyed by a hash of the header)
  until users, tokens or ACLs change, so a password costs its PBKDF2 work once.
- Decisions are the ``AuthStore``'s ACLs in Kafka's model (``logway.auth.acls``).
  logway's internal topics (``__logway…``: users and tokens, the audit trail) are
  reachable only by principals allowed ``alter`` on the cluster, whatever topic ACLs say.
- The store is re-read every ``REFRESH_S``, and before a refusal (so a user, token or
  ACL made a moment ago is seen at once). After a change, every identity is checked
  again (a revoked token or a removed user fails its next request) and so is every
  open stream registered with ``hold``: one no longer allowed is ended with
  ``PermissionDeniedError`` (or ``AuthenticationError``).
- Every refusal is written to the audit topic ``__logway_audit`` (principal, door,
  operation, resource, time, reason; never a secret), and failed sign-ins are slowed
  per user name and per address: each failure within ``FAILURE_MEMORY_S`` doubles the
  wait before the next attempt is looked at, up to ``MAX_PENALTY_S``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from logway.auth import tokens as api_tokens
from logway.auth.acls import CLUSTER_NAME, Operation, ResourceType
from logway.auth.oidc import OidcVerifier
from logway.auth.store import AuthStore
from logway.broker import Broker, ensure_topic
from logway.errors import AuthenticationError, LogwayError, PermissionDeniedError

log = logging.getLogger("logway.server.access")

ANONYMOUS = "User:ANONYMOUS"  # Kafka's name for a caller without credentials
AUDIT_TOPIC = "__logway_audit"
AUDIT_RETENTION_MS = 30 * 24 * 3600 * 1000
INTERNAL_PREFIX = "__logway"
REFRESH_S = 0.25  # a change to users, tokens or ACLs shows on every door within this
FAILURE_MEMORY_S = 60.0
FIRST_PENALTY_S = 0.05
MAX_PENALTY_S = 2.0
MAX_REMEMBERED = 10_000  # sign-ins and failure counters kept; past this they start again
ASK_AGAIN = "authenticate with a token (Authorization: Bearer lw_…) or a user's password"

Check = tuple[str, str, str]  # operation, resource type, resource name


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller as the doors see it. ``via`` says how it was established: ``open``
    (authentication is off), ``anonymous``, ``token``, ``password``, ``jwt`` or
    ``certificate``. ``claims`` are
    groups given by the credential itself (an outside token); a user's own groups are
    read from the store at each decision, so a change applies at once."""

    principal: str
    via: str
    key: str = ""  # what to look at again after a change: "token:ID" or "user:NAME:ID"
    expires_ms: int | None = None
    claims: frozenset[str] = field(default=frozenset())

    @property
    def name(self) -> str:
        return self.principal.partition(":")[2]


OPEN = Identity(ANONYMOUS, "open")
ANONYMOUS_IDENTITY = Identity(ANONYMOUS, "anonymous")


class _Hold:
    """An open stream's standing permission, looked at again after every change."""

    __slots__ = ("checks", "revoke", "who")

    def __init__(self, who: Identity, checks: list[Check], revoke: Callable[[Exception], None]):
        self.who = who
        self.checks = checks
        self.revoke = revoke


def _now_ms() -> int:
    return int(time.time() * 1000)


class Access:
    """Authentication and permission checks for the doors of one broker."""

    def __init__(
        self,
        broker: Broker,
        *,
        enabled: bool = False,
        allow_anonymous: bool = False,
        store: AuthStore | None = None,
        oidc: OidcVerifier | None = None,
        certificates: bool = False,
    ) -> None:
        self.broker = broker
        self.oidc = oidc
        self.certificates = certificates  # a client certificate's subject names its user
        # the HTTP server's way to the verified certificate of a client (host, port)
        self.http_certificate: Callable[[Any], str] | None = None
        self.enabled = enabled
        self.allow_anonymous = allow_anonymous
        self.store = store if store is not None or not enabled else AuthStore(broker)
        self._version = self._store_version()
        self._signed_in: dict[bytes, Identity] = {}  # hash of a header -> who it proved
        self._failures: dict[str, tuple[int, float]] = {}  # name or address -> (count, when)
        self._holds: set[_Hold] = set()
        self._valid: dict[str, int] = {}  # identity key -> store version it was checked at
        self._audit_ready = False

    # --- who is calling -----------------------------------------------------------

    async def identify(self, authorization: str | None, address: str = "") -> Identity:
        """The caller an ``Authorization`` header value (or its absence) stands for;
        ``AuthenticationError`` when it proves nothing."""
        if not self.enabled:
            return OPEN
        if not authorization:
            if self.allow_anonymous:
                return ANONYMOUS_IDENTITY
            raise self._refused("", "no credentials", address, ASK_AGAIN)
        remembered = hashlib.sha256(authorization.encode()).digest()
        who = self._signed_in.get(remembered)
        if who is not None and self._still_valid(who):
            return who
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            who = await self._token(value.strip(), address)
        elif scheme == "basic":
            try:
                name, password = _basic(value.strip())
            except ValueError:
                raise self._refused(
                    "",
                    "Basic credentials that are not base64 of name:password",
                    address,
                    ASK_AGAIN,
                ) from None
            who = await self.sign_in(name, password, address)
        else:
            raise self._refused("", f"unknown scheme {scheme[:20]!r}", address, ASK_AGAIN)
        if len(self._signed_in) >= MAX_REMEMBERED:
            self._signed_in.clear()
        self._signed_in[remembered] = who
        return who

    async def caller(self, context: Any) -> Identity:
        """Who makes a gRPC or gRPC-Web call (its ``context``): the session a gRPC-Web
        call's cookie named, its ``authorization`` metadata, or its verified client
        certificate. A gRPC service of an app asks this, then ``check`` or ``allowed``."""
        if not self.enabled:
            return OPEN
        web = getattr(context, "identity", None)  # gRPC-Web: the caller of a session cookie
        if isinstance(web, Identity):
            return web
        header = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                header = str(value)
                break
        if header is None and self.certificates:
            who = self.certificate_identity(_common_name(context))
            if who is not None:
                return who
        return await self.identify(header, context.peer())

    async def _token(self, token: str, address: str) -> Identity:
        assert self.store is not None
        token_id = api_tokens.token_id(token)
        if token_id is None:
            if self.oidc is None:
                raise self._refused(
                    "", "a bearer token that is not a logway API token", address, ASK_AGAIN
                )
            return await self._jwt(token, address)
        await self._slow_down(f"token:{token_id}", address)
        principal = self.store.authenticate_token(token)
        if principal is None and self.refresh():  # made a moment ago, perhaps
            principal = self.store.authenticate_token(token)
        if principal is None:
            self._failed(f"token:{token_id}", address)
            raise self._refused(
                "", f"token {token_id} is unknown, revoked or expired", address, ASK_AGAIN
            )
        stored = self.store.token(token_id)
        return Identity(
            principal,
            "token",
            key=f"token:{token_id}",
            expires_ms=stored.expires if stored is not None else None,
        )

    async def sign_in(self, name: str, password: str, address: str = "") -> Identity:
        """The user ``name`` if ``password`` is theirs; ``AuthenticationError`` if not
        (after the wait that earlier failures for that name or address have earned)."""
        if not self.enabled:
            return OPEN
        assert self.store is not None
        await self._slow_down(f"user:{name}", address)
        before = self.store.version
        principal = await asyncio.to_thread(self.store.authenticate_password, name, password)
        # a user or password made a moment ago: read the store (here, or in the periodic
        # refresh that may have run meanwhile) and check once more
        if principal is None and (self.refresh() or self.store.version != before):
            principal = await asyncio.to_thread(self.store.authenticate_password, name, password)
        if principal is None:
            self._failed(f"user:{name}", address)
            raise self._refused(f"User:{name}", "wrong user name or password", address, ASK_AGAIN)
        self._failures.pop(f"user:{name}", None)
        return self.user_identity(name, "password")

    async def _jwt(self, token: str, address: str) -> Identity:
        assert self.oidc is not None
        # a signature cannot be guessed as a password can: failures are slowed per
        # address only
        await self._slow_down("", address)
        try:
            claims = await asyncio.to_thread(self.oidc.verify, token)
        except AuthenticationError as exc:
            self._failed("", address)
            reason = str(exc).removeprefix("authentication failed: ")
            self.audit("-", "sign-in", "authenticate", "cluster", CLUSTER_NAME, reason, address)
            raise
        return Identity(claims.principal, "jwt", expires_ms=claims.expires_ms, claims=claims.groups)

    def certificate_identity(self, common_name: str) -> Identity | None:
        """``User:CN`` for a client certificate the TLS layer verified against the
        client CA (mutual TLS), when certificates name users; else None."""
        if not (self.enabled and self.certificates and common_name):
            return None
        return Identity(f"User:{common_name}", "certificate")

    def user_identity(self, name: str, via: str) -> Identity:
        """The identity of a user the store knows (whose proof a door checked itself,
        as the Kafka port's SCRAM exchange does)."""
        assert self.store is not None
        user = self.store.user(name)
        if user is None:
            raise AuthenticationError("authentication failed: " + ASK_AGAIN)
        return Identity(user.principal, via, key=f"user:{name}:{user.id}")

    # --- proofs a door checks itself (SCRAM on the Kafka port) ----------------------

    async def before_proof(self, name: str, address: str = "") -> None:
        """Wait as long as earlier failed sign-ins of ``name`` or from ``address`` have
        earned, before a door looks at a proof it checks itself."""
        await self._slow_down(f"user:{name}", address)

    def proof_failed(self, name: str, address: str, reason: str) -> AuthenticationError:
        """Count a failed proof of ``name`` ("" when the attempt named no one) from
        ``address``, so the next attempts wait longer as after a failed ``sign_in``, and
        audit it (``reason`` names no secret); returns the error to raise."""
        self._failed(f"user:{name}", address)
        return self._refused(f"User:{name}" if name else "", reason, address, ASK_AGAIN)

    def proof_accepted(self, name: str, via: str) -> Identity:
        """The identity of ``name``, whose proof a door checked; its failures are
        forgotten, as after a successful ``sign_in``."""
        self._failures.pop(f"user:{name}", None)
        return self.user_identity(name, via)

    def _still_valid(self, who: Identity) -> bool:
        """Whether a remembered identity still stands: not expired, and (after a
        change) its token or user still there."""
        if who.expires_ms is not None and _now_ms() >= who.expires_ms:
            return False
        if not who.key or self.store is None:
            return True
        kind, _, rest = who.key.partition(":")
        if kind == "token":
            stored = self.store.token(rest)
            return stored is not None and not stored.expired(_now_ms())
        name, _, user_id = rest.partition(":")
        user = self.store.user(name)
        return user is not None and user.id == user_id

    # --- slowing failed sign-ins ----------------------------------------------------

    async def _slow_down(self, name: str, address: str) -> None:
        wait = self._penalty(f"address:{host_of(address)}")
        if name:
            wait = max(wait, self._penalty(name))
        if wait > 0:
            await asyncio.sleep(wait)

    def _penalty(self, key: str) -> float:
        count, when = self._failures.get(key, (0, 0.0))
        if not count or time.monotonic() - when > FAILURE_MEMORY_S:
            return 0.0
        return min(MAX_PENALTY_S, FIRST_PENALTY_S * 2.0 ** (count - 1))

    def _failed(self, name: str, address: str) -> None:
        if len(self._failures) >= MAX_REMEMBERED:
            self._failures.clear()
        now = time.monotonic()
        for key in ([name] if name else []) + [f"address:{host_of(address)}"]:
            count, when = self._failures.get(key, (0, 0.0))
            if now - when > FAILURE_MEMORY_S:
                count = 0
            self._failures[key] = (count + 1, now)

    # --- what they may do -----------------------------------------------------------

    def allowed(self, who: Identity, operation: str, resource_type: str, name: str) -> bool:
        """Whether ``who`` may; no audit record (for listings that hide what one may
        not describe)."""
        if who.via == "open":
            return True
        return self._decide(who, operation, resource_type, name)[0]

    def _decide(
        self, who: Identity, operation: str, resource_type: str, name: str
    ) -> tuple[bool, str]:
        store = self.store
        assert store is not None
        if resource_type == "topic" and name.startswith(INTERNAL_PREFIX):
            operation, resource_type, name = Operation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME
        # an outside token's groups are its claim's, even none; a user's, the store's
        groups = who.claims if who.via == "jwt" else store.groups_of(who.principal)
        decision = store.authorizer.authorize(who.principal, groups, operation, resource_type, name)
        return decision.allowed, decision.reason

    def check(
        self,
        who: Identity,
        operation: str,
        resource_type: str,
        name: str,
        door: str,
        address: str = "",
    ) -> None:
        """Raise ``PermissionDeniedError`` (and write an audit record) unless ``who``
        may do ``operation`` on the resource; ``AuthenticationError`` if ``who`` no
        longer stands (a revoked token, a removed user, an expired token)."""
        if who.via == "open":
            return
        if who.key and self._valid.get(who.key) != self._version:
            if not self._still_valid(who):
                raise self._refused(
                    who.principal, "revoked or expired credentials", address, ASK_AGAIN
                )
            self._valid[who.key] = self._version
        elif who.expires_ms is not None and _now_ms() >= who.expires_ms:
            raise self._refused(who.principal, "the token has expired", address, ASK_AGAIN)
        allowed, reason = self._decide(who, operation, resource_type, name)
        if not allowed and self.refresh():  # an ACL given a moment ago, perhaps
            allowed, reason = self._decide(who, operation, resource_type, name)
        if not allowed:
            self.audit(who.principal, door, operation, resource_type, name, reason, address)
            raise PermissionDeniedError(
                f"{who.principal} may not {operation} {resource_type} {name!r}"
            )

    def check_any(self, who: Identity, asks: Iterable[Check], door: str, address: str = "") -> None:
        """Allowed when any one of ``asks`` is (Kafka's CreateTopics: create on the
        cluster, or on the topic); refused with the last one's reason."""
        asks = list(asks)
        for operation, resource_type, name in asks[:-1]:
            if self.allowed(who, operation, resource_type, name):
                return
        self.check(who, *asks[-1], door, address)

    # --- open streams ---------------------------------------------------------------

    def hold(
        self, who: Identity, checks: list[Check], revoke: Callable[[Exception], None]
    ) -> Callable[[], None]:
        """Keep checking an open stream's permissions after every change; ``revoke``
        is called (once) with the error to end it with. Returns the release."""
        if who.via == "open":
            return _nothing
        held = _Hold(who, checks, revoke)
        self._holds.add(held)
        return lambda: self._holds.discard(held)

    def _review_holds(self) -> None:
        for held in list(self._holds):
            error: Exception | None = None
            if not self._still_valid(held.who):
                error = AuthenticationError(
                    f"{held.who.principal}'s credentials were revoked or expired"
                )
            else:
                for operation, resource_type, name in held.checks:
                    allowed, reason = self._decide(held.who, operation, resource_type, name)
                    if not allowed:
                        error = PermissionDeniedError(
                            f"{held.who.principal} may no longer {operation} "
                            f"{resource_type} {name!r}"
                        )
                        self.audit(
                            held.who.principal, "stream", operation, resource_type, name, reason
                        )
                        break
            if error is not None:
                self._holds.discard(held)
                try:
                    held.revoke(error)
                except Exception:  # one stream's ending must not stop the others'
                    log.exception("ending a stream whose permission was revoked")

    # --- keeping up with the store --------------------------------------------------

    def _store_version(self) -> int:
        return self.store.version if self.store is not None else 0

    def refresh(self) -> bool:
        """Read changes to users, tokens and ACLs; after one, identities and open
        streams are looked at again. Returns whether anything changed."""
        if self.store is None:
            return False
        self.store.refresh()
        version = self._store_version()
        changed = version != self._version
        self._version = version
        expiring = any(h.who.expires_ms is not None for h in self._holds)
        if changed:
            self._signed_in.clear()
            self._valid.clear()
        if changed or expiring:
            self._review_holds()
        return changed

    async def run(self) -> None:
        """Refresh every ``REFRESH_S`` until cancelled."""
        if self.store is None:
            return
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                self.refresh()
            except LogwayError as exc:  # the log is closing, say: try again next time
                log.warning("could not re-read users, tokens and ACLs: %s", exc)

    # --- the audit trail ------------------------------------------------------------

    def _refused(
        self, principal: str, reason: str, address: str, advice: str
    ) -> AuthenticationError:
        self.audit(
            principal or "-", "sign-in", "authenticate", "cluster", CLUSTER_NAME, reason, address
        )
        return AuthenticationError(f"authentication failed: {advice}")

    def audit(
        self,
        principal: str,
        door: str,
        operation: str,
        resource_type: str,
        name: str,
        reason: str,
        address: str = "",
    ) -> None:
        """Write one refusal to the audit topic (never a credential)."""
        entry = {
            "time": _now_ms(),
            "principal": principal,
            "door": door,
            "operation": str(operation),
            "resource_type": str(resource_type),
            "resource": name,
            "reason": reason,
            "address": address,
        }
        try:
            if not self._audit_ready:
                ensure_topic(self.broker, AUDIT_TOPIC, 1, retention_ms=AUDIT_RETENTION_MS)
                self._audit_ready = True
            self.broker.produce(
                AUDIT_TOPIC, json.dumps(entry, separators=(",", ":")), key=principal
            )
        except LogwayError as exc:  # a refusal stands even when it cannot be written down
            log.warning("audit record not written: %s", exc)


def host_of(address: str) -> str:
    """The host of a door's address for a caller (``ipv4:10.0.0.7:51234``,
    ``ipv6:[::1]:51234``, ``grpc-web:10.0.0.7``, ``10.0.0.7``): failures are counted
    per host, whichever door and connection they came through."""
    rest = address.split(":", 1)[1] if address.startswith(("ipv4:", "ipv6:")) else address
    rest = urllib.parse.unquote(rest)  # gRPC writes ipv6:%5B::1%5D:PORT
    rest = rest.removeprefix("grpc-web:").removeprefix("http:")
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    if address.startswith("ipv4:") or rest.count(":") == 1:
        return rest.rsplit(":", 1)[0]
    return rest


def _common_name(context: Any) -> str:
    """The subject common name of the client certificate gRPC's TLS verified."""
    auth_context = getattr(context, "auth_context", None)
    names = auth_context().get("x509_common_name") if auth_context else None
    return names[0].decode(errors="replace") if names else ""


def _nothing() -> None:
    return None


def _basic(value: str) -> tuple[str, str]:
    """``Basic`` credentials: base64 of ``name:password``."""
    text = base64.b64decode(value, validate=True).decode()  # binascii.Error is a ValueError
    name, colon, password = text.partition(":")
    if not colon:
        raise ValueError("no colon")
    return name, password
