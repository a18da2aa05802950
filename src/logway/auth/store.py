"""Users, API tokens and ACLs, kept in the log itself so every process and every
backend sees the same ones.

They live in the topic ``__logway_auth`` (one partition, kept forever, made on the
first change). Each change is one record, so it happens whole or not at all; its key
names what it changes and its value is the new state of that thing as JSON, or null
(a tombstone) when it is removed:

- ``user:NAME``: ``{"name", "id", "groups": [...], "scram": {"SCRAM-SHA-256":
  {"salt", "iterations", "stored_key", "server_key"}, "SCRAM-SHA-512": {...}},
  "created", "updated"}`` (bytes in base64, times in ms since the epoch). The
  password is not stored, only its SCRAM verifiers; ``id`` is new each time a user is
  added, so a token of a removed user never works for a new user of the same name.
- ``token:ID``: ``{"id", "name", "user", "user_id", "sha256", "created", "expires"}``.
- ``acl:<canonical form>``: ``{"principal", "permission", "operation",
  "resource_type", "pattern_type", "name"}``; see ``Acl.canonical``.

``AuthStore`` replays the topic into memory and ``refresh()`` reads what other
processes wrote since. Every change first refreshes, checks its input (bad input
raises ``InvalidArgumentError`` and writes nothing), writes its record, and reads it
back. Authentication and authorization answer from memory, as of the last refresh.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from logway.auth import scram
from logway.auth import tokens as api_tokens
from logway.auth.acls import Acl, Authorizer, Decision, check_name
from logway.auth.tokens import ApiToken
from logway.broker import Broker
from logway.errors import InvalidArgumentError
from logway.keyed_topic import KeyedTopic
from logway.units import parse_duration_ms

AUTH_TOPIC = "__logway_auth"
NO_GROUPS: frozenset[str] = frozenset()
_log = logging.getLogger("logway.auth")


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class User:
    """A user: its name, groups and SCRAM verifiers (never its password)."""

    name: str
    id: str
    groups: tuple[str, ...]
    credentials: dict[str, scram.ScramCredential] = field(repr=False)
    created: int
    updated: int

    @property
    def principal(self) -> str:
        return f"User:{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "groups": list(self.groups),
            "scram": {m: c.to_json() for m, c in self.credentials.items()},
            "created": self.created,
            "updated": self.updated,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> User:
        """The user stored as ``to_json`` wrote it; ``ValueError`` if malformed."""
        try:
            return cls(
                check_name(value["name"]),
                str(value["id"]),
                tuple(check_name(g, "group") for g in value["groups"]),
                {m: scram.ScramCredential.from_json(m, c) for m, c in dict(value["scram"]).items()},
                int(value["created"]),
                int(value["updated"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed user record: {exc}") from None


def _check_groups(groups: Iterable[str]) -> tuple[str, ...]:
    if isinstance(groups, str):
        raise InvalidArgumentError(f"groups must be a list of names, not the string {groups!r}")
    return tuple(sorted({check_name(g, "group") for g in groups}))


def _expiry(expires_in: int | str | dt.timedelta | None, now_ms: int) -> int | None:
    if expires_in is None:
        return None
    if isinstance(expires_in, dt.timedelta):
        ms = int(expires_in.total_seconds() * 1000)
    else:
        ms = parse_duration_ms(expires_in, "expires_in")
    if ms <= 0:
        raise InvalidArgumentError(f"expires_in must be a positive duration, not {expires_in!r}")
    return now_ms + ms


class AuthStore:
    """Users, tokens and ACLs of a broker (see the module's docstring for the records).

    ``iterations`` is the SCRAM iteration count for passwords set from now on. Safe to
    use from several threads; changes from other processes show after ``refresh()``.
    """

    def __init__(self, broker: Broker, iterations: int = scram.DEFAULT_ITERATIONS) -> None:
        if iterations < scram.MIN_ITERATIONS:
            raise InvalidArgumentError(
                f"SCRAM needs at least {scram.MIN_ITERATIONS} iterations, not {iterations}"
            )
        self.broker = broker
        self.iterations = iterations
        self.authorizer = Authorizer()
        self._lock = threading.RLock()
        self._users: dict[str, User] = {}
        self._tokens: dict[str, ApiToken] = {}
        self._acls: dict[str, Acl] = {}
        self._groups: dict[str, frozenset[str]] = {}  # principal -> groups, for authorize
        self._log = KeyedTopic(broker, AUTH_TOPIC, self._apply, self._forget, retention_ms=-1)
        self.refresh()

    @property
    def version(self) -> int:
        """Counts the changes read: a door looks again when it moves."""
        return self._log.version

    # reading the topic

    def refresh(self) -> None:
        """Read the records written since the last refresh (by any process)."""
        with self._lock:
            if self._log.refresh():
                self.authorizer.set_acls(self._acls.values())

    def _forget(self) -> None:
        self._users, self._tokens, self._acls, self._groups = {}, {}, {}, {}

    def _apply(self, key: str, value: dict[str, Any] | None, offset: int) -> bool:
        """Apply one record; returns whether it changed the ACLs (a ValueError skips
        it, with a warning)."""
        kind, _, ident = key.partition(":")
        if kind == "user":
            if value is None:
                self._users.pop(ident, None)
                self._groups.pop(f"User:{ident}", None)
            else:
                user = User.from_json(value)
                self._users[ident] = user
                self._groups[user.principal] = frozenset(user.groups)
        elif kind == "token":
            if value is None:
                self._tokens.pop(ident, None)
            else:
                self._tokens[ident] = ApiToken.from_json(value)
        elif kind == "acl":
            if value is None:
                self._acls.pop(ident, None)
            else:
                self._acls[ident] = Acl.from_json(value)
            return True
        else:
            raise ValueError(f"unknown key {key!r}")
        return False

    def _write(self, key: str, value: dict[str, Any] | None) -> None:
        """Write one change and read it (and whatever came before it) back."""
        if self._log.write(key, value):
            self.authorizer.set_acls(self._acls.values())

    # users

    def users(self) -> list[User]:
        with self._lock:
            return sorted(self._users.values(), key=lambda u: u.name)

    def user(self, name: str) -> User | None:
        with self._lock:
            return self._users.get(name)

    def _existing(self, name: str) -> User:
        check_name(name)
        user = self._users.get(name)
        if user is None:
            raise InvalidArgumentError(
                f"there is no user {name!r}; add it first (logway users add {name})"
            )
        return user

    def _credentials(self, password: str) -> dict[str, scram.ScramCredential]:
        scram.check_password(password)
        return {m: scram.make_credential(password, m, self.iterations) for m in scram.MECHANISMS}

    def add_user(self, name: str, password: str, groups: Iterable[str] = ()) -> User:
        """Add a user with a password (stored as SCRAM verifiers) and groups."""
        check_name(name)
        members = _check_groups(groups)
        credentials = self._credentials(password)
        with self._lock:
            self.refresh()
            if name in self._users:
                raise InvalidArgumentError(
                    f"user {name!r} exists; change its password with set_password "
                    f"(logway users passwd {name}) or remove it first"
                )
            now = _now_ms()
            user = User(name, secrets.token_hex(8), members, credentials, now, now)
            self._write(f"user:{name}", user.to_json())
            return self._users[name]

    def set_password(self, name: str, password: str) -> None:
        credentials = self._credentials(password)
        with self._lock:
            self.refresh()
            user = self._existing(name)
            changed = User(user.name, user.id, user.groups, credentials, user.created, _now_ms())
            self._write(f"user:{name}", changed.to_json())

    def set_groups(self, name: str, groups: Iterable[str]) -> None:
        members = _check_groups(groups)
        with self._lock:
            self.refresh()
            user = self._existing(name)
            changed = User(user.name, user.id, members, user.credentials, user.created, _now_ms())
            self._write(f"user:{name}", changed.to_json())

    def remove_user(self, name: str) -> None:
        """Remove a user. Its tokens stop working at once (they name the removed user's
        id); their records are removed after it."""
        with self._lock:
            self.refresh()
            user = self._existing(name)
            self._write(f"user:{name}", None)
            for token in list(self._tokens.values()):
                if token.user_id == user.id:
                    self._write(f"token:{token.id}", None)

    def groups_of(self, principal: str) -> frozenset[str]:
        """The groups of ``User:NAME`` (none for an unknown user)."""
        return self._groups.get(principal, NO_GROUPS)

    def scram_credential(self, username: str, mechanism: str) -> scram.ScramCredential | None:
        """The user's verifier for ``mechanism``: the lookup a ``ScramServer`` takes."""
        user = self._users.get(username)
        return None if user is None else user.credentials.get(mechanism)

    def authenticate_password(self, username: str, password: str) -> str | None:
        """``User:NAME`` if the password is the user's, else None. An unknown user
        costs the same work as a wrong password."""
        credential = self.scram_credential(username, "SCRAM-SHA-256")
        if credential is None:
            dummy = scram.dummy_credential("SCRAM-SHA-256", str(username), scram.DUMMY_SECRET)
            scram.verify(str(password), dummy)
            return None
        return f"User:{username}" if scram.verify(password, credential) else None

    # tokens

    def create_token(
        self,
        name: str,
        user: str,
        expires_in: int | str | dt.timedelta | None = None,
    ) -> str:
        """A new API token acting for ``user``; the plaintext is returned here once and
        never stored. ``expires_in``: milliseconds, a duration such as ``"90d"``, a
        timedelta, or None for a token that does not expire."""
        api_tokens.check_token_name(name)
        now = _now_ms()
        expires = _expiry(expires_in, now)
        with self._lock:
            self.refresh()
            owner = self._existing(user)
            plaintext, stored = api_tokens.new_token(name, owner.name, owner.id, now, expires)
            self._write(f"token:{stored.id}", stored.to_json())
            return plaintext

    def tokens(self, user: str | None = None) -> list[ApiToken]:
        with self._lock:
            found = [t for t in self._tokens.values() if user is None or t.user == user]
        return sorted(found, key=lambda t: (t.user, t.created, t.id))

    def token(self, token_id: str) -> ApiToken | None:
        return self._tokens.get(token_id)

    def revoke_token(self, token_id: str) -> None:
        api_tokens.check_token_id(token_id)
        with self._lock:
            self.refresh()
            if token_id not in self._tokens:
                raise InvalidArgumentError(
                    f"there is no token {token_id!r} (logway tokens list shows them)"
                )
            self._write(f"token:{token_id}", None)

    def authenticate_token(self, token: str) -> str | None:
        """``User:NAME`` the token acts for, or None: unknown, revoked, expired, or its
        user removed. The hashes are compared in constant time."""
        token_id = api_tokens.token_id(token)
        stored = self._tokens.get(token_id) if token_id is not None else None
        if stored is None or not api_tokens.matches(token, stored):
            return None
        user = self._users.get(stored.user)
        if user is None or user.id != stored.user_id or stored.expired(_now_ms()):
            return None
        return user.principal

    # ACLs

    def acls(self, principal: str | None = None) -> list[Acl]:
        with self._lock:
            found = [a for a in self._acls.values() if principal in (None, a.principal)]
        return sorted(found, key=Acl.canonical)

    def add_acl(self, acl: Acl) -> bool:
        """Add an ACL (build it with ``Acl.of``); False if it was there already (then
        nothing is written)."""
        if not isinstance(acl, Acl):
            raise InvalidArgumentError(f"an ACL must be an Acl (see Acl.of), not {acl!r}")
        checked = Acl.from_json(acl.to_json())
        with self._lock:
            self.refresh()
            key = checked.canonical()
            if key in self._acls:
                return False
            self._write(f"acl:{key}", checked.to_json())
            return True

    def remove_acl(self, acl: Acl) -> None:
        if not isinstance(acl, Acl):
            raise InvalidArgumentError(f"an ACL must be an Acl (see Acl.of), not {acl!r}")
        with self._lock:
            self.refresh()
            key = acl.canonical()
            if key not in self._acls:
                raise InvalidArgumentError(
                    f"there is no ACL {acl.describe()}; nothing was removed (logway acls list)"
                )
            self._write(f"acl:{key}", None)

    def authorize(self, principal: str, operation: str, resource_type: str, name: str) -> Decision:
        """The authorizer's decision for ``principal`` with the groups its user has."""
        return self.authorizer.authorize(
            principal, self.groups_of(principal), operation, resource_type, name
        )
