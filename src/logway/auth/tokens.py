"""API tokens: random secrets shown once, stored only as a SHA-256 hash.

A token reads ``lw_<id>_<secret>``: the ``lw_`` prefix makes a leaked token easy to
recognise (secret scanners, logs), the id finds its stored record without a search,
and the secret (32 random bytes, URL-safe base64) is what proves it. What is stored
is the id, a name, the user it acts for, the SHA-256 of the whole token, when it was
made and when it expires; a token is checked by comparing hashes in constant time.
A plain hash is enough here, unlike passwords: the secret is random and long, so
there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from logway.errors import InvalidArgumentError

PREFIX = "lw_"
ID_BYTES = 8  # 16 hex digits
SECRET_BYTES = 32
MAX_NAME = 128
_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class ApiToken:
    """A stored token (never its secret). ``user_id`` is the id of the user record it
    was made for, so a token outlives neither its user nor a user of the same name
    made again later. ``expires`` is in milliseconds since the epoch; None: never."""

    id: str
    name: str
    user: str
    user_id: str
    hash: str
    created: int
    expires: int | None

    def expired(self, now_ms: int) -> bool:
        return self.expires is not None and now_ms >= self.expires

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "user": self.user,
            "user_id": self.user_id,
            "sha256": self.hash,
            "created": self.created,
            "expires": self.expires,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ApiToken:
        """The token stored as ``to_json`` wrote it; ``ValueError`` if malformed."""
        try:
            expires = value["expires"]
            token = cls(
                str(value["id"]),
                str(value["name"]),
                str(value["user"]),
                str(value["user_id"]),
                str(value["sha256"]),
                int(value["created"]),
                None if expires is None else int(expires),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed token record: {exc}") from None
        if not _ID.match(token.id):
            raise ValueError(f"malformed token id {token.id!r}")
        return token


def check_token_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidArgumentError(
            f"a token name must be a non-empty string of at most {MAX_NAME} characters, "
            f"not {name!r}"
        )
    if not name.isprintable():
        raise InvalidArgumentError(f"a token name must be printable, not {name!r}")
    return name


def check_token_id(token_id: object) -> str:
    if not isinstance(token_id, str) or not _ID.match(token_id):
        raise InvalidArgumentError(
            f"a token id is 16 hex digits (as `logway tokens list` shows), not {token_id!r}"
        )
    return token_id


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(
    name: str, user: str, user_id: str, now_ms: int, expires_ms: int | None
) -> tuple[str, ApiToken]:
    """A fresh token: its plaintext (to show once) and what is stored of it."""
    token_id = secrets.token_hex(ID_BYTES)
    plaintext = f"{PREFIX}{token_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    stored = ApiToken(
        token_id, check_token_name(name), user, user_id, digest(plaintext), now_ms, expires_ms
    )
    return plaintext, stored


def token_id(token: object) -> str | None:
    """The id part of a token, or None if it does not look like one."""
    if not isinstance(token, str) or not token.startswith(PREFIX):
        return None
    found, sep, secret = token[len(PREFIX) :].partition("_")
    return found if sep and secret and _ID.match(found) else None


def matches(token: str, stored: ApiToken) -> bool:
    """Whether ``token`` is the one ``stored`` was made from (constant time)."""
    return hmac.compare_digest(digest(token), stored.hash)
