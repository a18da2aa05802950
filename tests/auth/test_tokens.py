"""API tokens: what a token looks like, what is stored of it, and how it is checked."""

from __future__ import annotations

import hashlib

import pytest

from logway.auth.tokens import (
    PREFIX,
    ApiToken,
    check_token_id,
    check_token_name,
    matches,
    new_token,
    token_id,
)
from logway.errors import InvalidArgumentError


def test_new_token_is_prefixed_random_and_stored_as_its_hash() -> None:
    plaintext, stored = new_token("ci", "ada", "u1", 1000, 5000)
    assert plaintext.startswith(PREFIX) and len(plaintext) > 50
    assert token_id(plaintext) == stored.id and len(stored.id) == 16
    assert stored.hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in repr(stored) and plaintext not in repr(stored.to_json())
    assert (stored.name, stored.user, stored.user_id) == ("ci", "ada", "u1")
    assert (stored.created, stored.expires) == (1000, 5000)
    other, _ = new_token("ci", "ada", "u1", 1000, 5000)
    assert other != plaintext


def test_matches_only_the_very_token() -> None:
    plaintext, stored = new_token("ci", "ada", "u1", 0, None)
    assert matches(plaintext, stored)
    assert not matches(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B"), stored)
    assert not matches("", stored)


def test_expiry() -> None:
    _, stored = new_token("ci", "ada", "u1", 0, 100)
    assert not stored.expired(99) and stored.expired(100)
    _, forever = new_token("ci", "ada", "u1", 0, None)
    assert not forever.expired(10**15)


@pytest.mark.parametrize(
    "text", ["", "lw_", "lw_abc", "xx_0123456789abcdef_secret", "lw_0123456789abcdef_", 42, None]
)
def test_token_id_of_what_is_not_a_token(text: object) -> None:
    assert token_id(text) is None


def test_stored_form_round_trips_and_refuses_garbage() -> None:
    _, stored = new_token("deploy bot", "ada", "u1", 7, None)
    assert ApiToken.from_json(stored.to_json()) == stored
    with pytest.raises(ValueError, match="malformed"):
        ApiToken.from_json({"id": stored.id})
    with pytest.raises(ValueError, match="malformed token id"):
        ApiToken.from_json({**stored.to_json(), "id": "../x"})


@pytest.mark.parametrize("name", ["", "   ", "x" * 129, "a\nb", 3])
def test_bad_token_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidArgumentError, match="token name"):
        check_token_name(name)


@pytest.mark.parametrize("ident", ["", "xyz", "0123456789ABCDEF", "0123456789abcde", None])
def test_bad_token_ids_are_refused(ident: object) -> None:
    with pytest.raises(InvalidArgumentError, match="16 hex digits"):
        check_token_id(ident)
