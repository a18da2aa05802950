"""OpenID Connect bearer tokens (JWT) from an outside issuer: a Cognito user pool,
Keycloak, Auth0.

``OidcVerifier.verify(token)`` checks a token's signature with the issuer's keys
(PyJWT does the cryptography), and its issuer, audience (when one is configured),
expiry and not-before with ``leeway`` seconds of clock skew, and only with the
``algorithms`` allowed (asymmetric ones: a token signed with a shared secret or
``none`` is refused). The principal is ``User:`` + the ``username_claim`` (``sub`` by
default; ``cognito:username`` or ``username`` for Cognito), the groups are the
``groups_claim`` (``groups``; ``cognito:groups`` for Cognito).

Keys come from a JWKS file, or a JWKS URL read on first use, kept, and read again
when a token names a key id the set lacks (the issuer rotated its keys) — at most
``MAX_FETCHES_PER_MINUTE`` times a minute, so tokens with made-up key ids cannot make
logway hammer the issuer.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Any

import jwt

from logway.errors import AuthenticationError, InvalidArgumentError

DEFAULT_ALGORITHMS = ("RS256", "ES256")
ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
ASYMMETRIC |= {"EdDSA"}
MAX_FETCHES_PER_MINUTE = 10
FETCH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Claims:
    """What a verified token says about its bearer."""

    principal: str
    groups: frozenset[str]
    expires_ms: int


class OidcVerifier:
    def __init__(
        self,
        issuer: str,
        *,
        jwks_url: str | None = None,
        jwks_file: str | None = None,
        audience: str | None = None,
        algorithms: tuple[str, ...] | list[str] = DEFAULT_ALGORITHMS,
        groups_claim: str = "groups",
        username_claim: str = "sub",
        leeway_s: float = 60.0,
    ) -> None:
        if not issuer:
            raise InvalidArgumentError("OpenID Connect needs the issuer (its URL)")
        if (jwks_url is None) == (jwks_file is None):
            raise InvalidArgumentError("give the issuer's keys as a JWKS URL or a JWKS file")
        refused = [a for a in algorithms if a not in ASYMMETRIC]
        if refused or not algorithms:
            raise InvalidArgumentError(
                f"allowed algorithms must be asymmetric ({', '.join(sorted(ASYMMETRIC))}), "
                f"not {', '.join(refused) or 'none'}"
            )
        if leeway_s < 0:
            raise InvalidArgumentError("the clock skew allowance cannot be negative")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.groups_claim = groups_claim
        self.username_claim = username_claim
        self.leeway_s = leeway_s
        self.jwks_url = jwks_url
        self._keys: dict[str, Any] = {}
        self._fetches: deque[float] = deque()
        self._lock = threading.Lock()
        if jwks_file is not None:
            try:
                with open(jwks_file, "rb") as f:
                    self._keys = _parse(f.read())
            except OSError as exc:
                raise InvalidArgumentError(
                    f"cannot read the JWKS file {jwks_file!r}: {exc.strerror}"
                ) from None

    def _fetch(self) -> None:
        """Read the JWKS URL again, unless it was read too often in the last minute."""
        assert self.jwks_url is not None
        now = time.monotonic()
        while self._fetches and now - self._fetches[0] > 60:
            self._fetches.popleft()
        if len(self._fetches) >= MAX_FETCHES_PER_MINUTE:
            return
        self._fetches.append(now)
        try:
            with urllib.request.urlopen(self.jwks_url, timeout=FETCH_TIMEOUT_S) as response:
                self._keys = _parse(response.read())
        except (OSError, ValueError) as exc:  # keep the keys we had
            raise AuthenticationError(
                f"authentication failed: the issuer's keys could not be read ({exc})"
            ) from None

    def _key(self, kid: str) -> Any:
        with self._lock:
            key = self._keys.get(kid)
            if key is None and self.jwks_url is not None:
                self._fetch()
                key = self._keys.get(kid)
        if key is None:
            raise AuthenticationError(f"authentication failed: unknown key id {kid[:64]!r}")
        return key

    def verify(self, token: str) -> Claims:
        """The bearer of a valid token; ``AuthenticationError`` saying what is wrong
        (never repeating the token)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("authentication failed: not a JWT") from None
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthenticationError("authentication failed: the JWT names no key id (kid)")
        if header.get("alg") not in self.algorithms:
            raise AuthenticationError(
                f"authentication failed: JWT algorithm {str(header.get('alg'))[:16]!r} "
                "is not allowed"
            )
        key = self._key(kid)
        required = ["exp", "iss", self.username_claim] + (["aud"] if self.audience else [])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway_s,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("authentication failed: the JWT has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("authentication failed: JWT for another audience") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("authentication failed: JWT from another issuer") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"authentication failed: invalid JWT ({exc})") from None
        name = claims.get(self.username_claim)
        if not isinstance(name, str) or not name:
            raise AuthenticationError(
                f"authentication failed: the JWT's {self.username_claim!r} is not a name"
            )
        groups = claims.get(self.groups_claim) or []
        if isinstance(groups, str):
            groups = groups.split()
        if not isinstance(groups, list):
            groups = []
        return Claims(
            f"User:{name}",
            frozenset(g for g in groups if isinstance(g, str)),
            int(claims["exp"] * 1000),
        )


def _parse(data: bytes) -> dict[str, Any]:
    """A JWKS document's keys by key id (keys of unknown types are left out)."""
    try:
        document = json.loads(data)
        found = jwt.PyJWKSet.from_dict(document)
    except (ValueError, jwt.PyJWTError) as exc:
        raise ValueError(f"not a JWKS document: {exc}") from None
    return {k.key_id: k.key for k in found.keys if k.key_id}
