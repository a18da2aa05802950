"""Who an HTTP request comes from: an ``Authorization`` header, or a browser's session.

``HttpAuth`` finds the caller of a request (REST, SSE, and gRPC-Web through the
bridge's ``identify`` hook) and signs browsers in and out; ``Sessions`` keeps their
sessions.

Browsers sign in with ``POST /auth/login`` (a user's name and password) and get the
cookie ``logway_session``: a random id (``secrets.token_urlsafe``, 256 bits) naming a
session kept in this process's memory (only its hash is kept; a restart signs everyone
out). The cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict`` and, over
https, ``Secure``. A session lasts ``SESSION_TTL_S`` (12 h) from sign-in, fixed: using it
does not extend it, so a stolen cookie is worth a bounded time. It ends sooner at
sign-out (which also ends the SSE streams it opened; a gRPC-Web stream runs on to the
session's expiry), or when its user is removed or given a new password. A sign-in from
another site's page (``Sec-Fetch-Site: cross-site``) is refused: login CSRF.

Strict, not Lax: the pages (the index page, an app's static files) carry no data and
need no cookie; everything that does is fetched by those pages' scripts from the same
site, where Strict cookies are sent. Lax would add only cross-site top-level GETs, which
never need the session.

CSRF: a request authenticated by the cookie that can change something (any method but
GET, HEAD and OPTIONS, so every gRPC-Web call) must carry the header ``X-Logway-CSRF``
equal to the session's CSRF token, which ``POST /auth/login`` and ``GET /auth/me``
return; without it the request is refused (403). Another site's page can neither read
that token nor send a custom header with credentials (this server's CORS preflight never
allows credentials). A request with an ``Authorization`` header needs no token: a browser
never adds that header on its own.

Credentials in the query string (``?token=``, ``?access_token=``) are refused (400)
without being looked at: URLs end up in logs, proxies and browser history.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from logway.errors import AuthenticationError, InvalidArgumentError, PermissionDeniedError
from logway.server.access import OPEN, Access, Identity

SESSION_COOKIE = "logway_session"
CSRF_HEADER = "x-logway-csrf"
SESSION_TTL_S = 12 * 3600.0
MAX_SESSIONS = 10_000  # past this the oldest session ends
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
QUERY_CREDENTIALS = ("token", "access_token")
MAX_SIGN_IN_BYTES = 64 << 10
SIGN_IN_AGAIN = (
    "the session has ended (signed out, expired, its user changed, or the server "
    "restarted); sign in again with POST /auth/login"
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@dataclass(eq=False)
class Session:
    """One signed-in browser: who it is, its CSRF token, when it ends, and the streams
    it opened (ended with it)."""

    identity: Identity
    csrf: str
    expires_ms: int
    password: bytes  # a digest of the user's password verifier at sign-in
    streams: set[Callable[[Exception], None]] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.identity.name


class Sessions:
    """The sessions of one server, in memory (all calls from its event loop)."""

    def __init__(
        self, access: Access, ttl_s: float = SESSION_TTL_S, max_sessions: int = MAX_SESSIONS
    ) -> None:
        self.access = access
        self.ttl_ms = int(ttl_s * 1000)
        self.max_sessions = max_sessions
        self._by_id: dict[bytes, Session] = {}  # sha256 of the cookie value -> session

    def start(self, name: str) -> tuple[str, Session]:
        """A new session for the user ``name`` (whose password was just checked): the
        cookie value (shown once, never kept) and the session."""
        expires = _now_ms() + self.ttl_ms
        identity = dataclasses.replace(
            self.access.user_identity(name, "session"), expires_ms=expires
        )
        if len(self._by_id) >= self.max_sessions:
            self._forget_expired()
            while len(self._by_id) >= self.max_sessions:
                self._end(next(iter(self._by_id)), "too many sessions; the oldest ended")
        cookie = secrets.token_urlsafe(32)
        session = Session(identity, secrets.token_urlsafe(32), expires, self._password(name))
        self._by_id[_digest(cookie)] = session
        return cookie, session

    def find(self, cookie: str | None) -> Session | None:
        """The live session a cookie value names; None (and the session ended) when it
        expired, its user was removed or got a new password, or there is none."""
        if not cookie:
            return None
        key = _digest(cookie)
        session = self._by_id.get(key)
        if session is None:
            return None
        if _now_ms() >= session.expires_ms:
            self._end(key, "the session expired; sign in again")
            return None
        try:
            current = self.access.user_identity(session.name, "session")
        except AuthenticationError:
            current = None
        if current is None or current.key != session.identity.key:
            self._end(key, f"user {session.name!r} was removed")
            return None
        if self._password(session.name) != session.password:
            self._end(key, f"user {session.name!r} has a new password; sign in again")
            return None
        return session

    def end(self, cookie: str | None) -> None:
        """Sign out: the session ends, and so do the streams it opened."""
        if cookie:
            self._end(_digest(cookie), "signed out")

    def watch(self, session: Session, revoke: Callable[[Exception], None]) -> Callable[[], None]:
        """Have ``revoke`` called when the session ends (an open stream); the release."""
        session.streams.add(revoke)
        return lambda: session.streams.discard(revoke)

    def _end(self, key: bytes, why: str) -> None:
        session = self._by_id.pop(key, None)
        if session is None:
            return
        for revoke in list(session.streams):
            revoke(AuthenticationError(f"{session.identity.principal}'s session ended: {why}"))
        session.streams.clear()

    def _forget_expired(self) -> None:
        now = _now_ms()
        for key in [k for k, s in self._by_id.items() if now >= s.expires_ms]:
            self._end(key, "the session expired; sign in again")

    def _password(self, name: str) -> bytes:
        store = self.access.store
        user = store.user(name) if store is not None else None
        if user is None:
            return b""
        verifiers = b"".join(c.stored_key for _, c in sorted(user.credentials.items()))
        return hashlib.sha256(verifiers).digest()


def address(request: HTTPConnection) -> str:
    """Where a request comes from, as the audit trail and sign-in slowing name it."""
    return f"http:{request.client.host if request.client else 'unknown'}"


def refuse_query_credentials(request: HTTPConnection) -> None:
    """Refuse ``?token=`` and ``?access_token=`` (the value is never read nor echoed)."""
    for key in request.query_params:
        if key.lower() in QUERY_CREDENTIALS:
            raise InvalidArgumentError(
                f"credentials in the URL ({key}=…) are refused: URLs are written to logs "
                "and browser history. Send an Authorization header (Bearer lw_… or Basic), "
                "or sign in with POST /auth/login and let the browser send its cookie; "
                "and revoke that token (logway tokens revoke), it may have been logged"
            )


def challenge(request: HTTPConnection) -> str:
    """``WWW-Authenticate`` for a 401. A browser's script (``Sec-Fetch-Mode`` other than
    navigate, ``X-Requested-With``, a session cookie) is not offered Basic, which would
    pop the browser's own password dialog over the page's sign-in."""
    mode = request.headers.get("sec-fetch-mode", "navigate")
    script = mode != "navigate" or "x-requested-with" in request.headers
    if script or SESSION_COOKIE in request.cookies:
        return 'Bearer realm="logway"'
    return 'Bearer realm="logway", Basic realm="logway", charset="UTF-8"'


def set_cookie(response: Response, request: HTTPConnection, cookie: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max_age,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, request: HTTPConnection) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


async def read_sign_in(request: Request) -> tuple[str, str]:
    """``user`` (or ``username``) and ``password`` from a JSON body or an HTML form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SIGN_IN_BYTES:
            raise InvalidArgumentError(f"a sign-in is at most {MAX_SIGN_IN_BYTES} bytes")
    value: Any
    if kind == "application/json":
        try:
            value = json.loads(body)
        except ValueError:  # not JSON, or not UTF-8
            raise InvalidArgumentError("the sign-in body is not JSON") from None
    elif kind == "application/x-www-form-urlencoded":
        try:
            text = bytes(body).decode()
        except UnicodeDecodeError:
            raise InvalidArgumentError("the sign-in form is not UTF-8") from None
        value = {k: v[0] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}
    else:
        raise InvalidArgumentError(
            "sign in with a JSON body or an HTML form (application/x-www-form-urlencoded) "
            f"holding user and password, not {kind or 'a body without content-type'}"
        )
    name = value.get("user", value.get("username")) if isinstance(value, dict) else None
    password = value.get("password") if isinstance(value, dict) else None
    if not isinstance(name, str) or not name or not isinstance(password, str):
        raise InvalidArgumentError("a sign-in needs user and password, both strings")
    return name, password


class HttpAuth:
    """The caller of an HTTP request: its ``Authorization`` header if it has one, else
    its session cookie, else nobody (``User:ANONYMOUS`` when the server allows that)."""

    def __init__(self, access: Access, sessions: Sessions) -> None:
        self.access = access
        self.sessions = sessions

    async def identify(self, request: HTTPConnection, door: str = "http") -> Identity:
        """Who sent ``request``; ``AuthenticationError`` when its credentials prove
        nothing, ``PermissionDeniedError`` for a cookie without its CSRF header. The
        session used, if any, is left in ``request.state.session``."""
        refuse_query_credentials(request)
        request.state.session = None
        if not self.access.enabled:
            return OPEN
        where = address(request)
        header = request.headers.get("authorization")
        if header:
            return await self.access.identify(header, where)
        if SESSION_COOKIE in request.cookies:
            session = self.sessions.find(request.cookies[SESSION_COOKIE])
            if session is None:
                raise AuthenticationError(f"authentication failed: {SIGN_IN_AGAIN}")
            self.check_csrf(request, session, door)
            request.state.session = session
            return session.identity
        if self.access.certificates and self.access.http_certificate is not None:
            who = self.access.certificate_identity(self.access.http_certificate(request.client))
            if who is not None:
                return who
        return await self.access.identify(None, where)

    def check_csrf(self, request: HTTPConnection, session: Session, door: str) -> None:
        """A cookie-authenticated request that can change something carries the
        session's CSRF token in ``X-Logway-CSRF``."""
        method = str(request.scope.get("method", "GET"))
        if method in SAFE_METHODS:
            return
        sent = request.headers.get(CSRF_HEADER, "")
        if hmac.compare_digest(sent.encode(), session.csrf.encode()):
            return
        reason = f"{method} with the session cookie and {'a wrong' if sent else 'no'} CSRF token"
        self.access.audit(
            session.identity.principal,
            door,
            method.lower(),
            "cluster",
            "cluster",
            reason,
            address(request),
        )
        raise PermissionDeniedError(
            f"{reason}: send the header X-Logway-CSRF with the csrf_token that "
            "POST /auth/login and GET /auth/me return"
        )

    async def sign_in(self, request: Request) -> tuple[str, Session]:
        """Check a sign-in's user name and password and start its session: the cookie
        value and the session. Refused from another site's page (``Sec-Fetch-Site:
        cross-site``: login CSRF would sign a browser in as someone else)."""
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise PermissionDeniedError(
                "sign-in from another site's page is refused; sign in from this server's pages"
            )
        if not self.access.enabled:
            raise InvalidArgumentError(
                "authentication is off on this server (logway serve --auth turns it on): "
                "there is nothing to sign in to"
            )
        name, password = await read_sign_in(request)
        await self.access.sign_in(name, password, address(request))
        self.sessions.end(request.cookies.get(SESSION_COOKIE))  # the new one replaces it
        return self.sessions.start(name)

    def sign_out(self, request: HTTPConnection) -> None:
        """End the request's session (and its streams); a live one needs its CSRF
        token, as every POST made with the cookie does."""
        cookie = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.find(cookie)
        if session is not None:
            self.check_csrf(request, session, "http")
            self.sessions.end(cookie)

    async def web_identity(self, request: HTTPConnection) -> Identity | None:
        """For the gRPC-Web bridge: the identity a session cookie stands for, or None
        when the call has an ``Authorization`` header (the service reads it) or no
        cookie."""
        refuse_query_credentials(request)
        if not self.access.enabled or request.headers.get("authorization"):
            return None
        if SESSION_COOKIE not in request.cookies:
            return None
        return await self.identify(request, door="grpc-web")
