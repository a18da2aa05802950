"""``logway users|tokens|acls`` run as a user would, in processes of their own, on a
``file:`` data directory: what they store, what they print, and that no password,
nor any token after its one showing, reaches stdout or stderr."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import logway
from logway.auth import AUTH_TOPIC, AuthStore
from tests.servers import logway_cli

PASSWORD = "Sup3r-secret-pw"
NEW_PASSWORD = "An0ther-secret-pw"


class Cli:
    """``logway --url file:DIR ...``, remembering every output to check for secrets."""

    def __init__(self, data: Path) -> None:
        self.url = f"file:{data}"
        self.outputs: list[str] = []

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = logway_cli(None, "--url", self.url, *args, stdin=stdin, timeout=60)
        self.outputs += [done.stdout, done.stderr]
        return done

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def fails(self, *args: str, stdin: str | None = None) -> str:
        done = self(*args, stdin=stdin)
        assert done.returncode == 1 and done.stderr.startswith("logway: error: "), done
        return done.stderr

    @contextmanager
    def store(self) -> Iterator[AuthStore]:
        """The store, read in this process (the broker closed after)."""
        with logway.connect(self.url) as broker:
            yield AuthStore(broker)


def test_users_tokens_and_acls_from_the_command_line(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data")
    assert cli.ok("users", "add", "ada", "-g", "ops", "--password-stdin", stdin=PASSWORD + "\n")
    assert cli.ok("users", "passwd", "ada", "--password-stdin", stdin=NEW_PASSWORD + "\r\n")
    token = cli.ok("tokens", "create", "--user", "ada", "--name", "ci", "--expires", "7d")
    token = token.strip()
    assert token.startswith("lw_") and "\n" not in token
    # the one-time showing is on stdout only; every other output is checked below
    cli.outputs.remove(token + "\n")
    added = cli.ok(
        "acls", "add", "--allow", "User:ada", "--allow", "Group:ops",
        "-o", "write", "-o", "read", "--topic", "orders",
    )  # fmt: skip
    assert added.count("added: allow") == 4
    cli.ok("acls", "add", "--deny", "User:*", "-o", "all", "--topic-prefix", "prod.")

    users = cli.ok("users", "list")
    assert "ada" in users and "ops" in users and "SCRAM-SHA-256,SCRAM-SHA-512" in users
    listed = cli.ok("acls", "list")
    assert "deny        User:*" in listed and "prefixed  prod." in listed
    assert listed.count("literal   orders") == 4

    with cli.store() as store:
        assert store.authenticate_password("ada", NEW_PASSWORD) == "User:ada"
        assert store.authenticate_password("ada", PASSWORD) is None
        assert store.authenticate_token(token) == "User:ada"
        assert store.authorize("User:ada", "write", "topic", "orders")
        assert not store.authorize("User:ada", "write", "topic", "prod.orders")
        (stored,) = store.tokens()
    tokens = cli.ok("tokens", "list")
    assert stored.id in tokens and "active" in tokens and "ci" in tokens

    cli.ok(
        "acls", "remove", "--allow", "Group:ops", "-o", "write", "-o", "read", "--topic", "orders"
    )
    cli.ok("tokens", "revoke", stored.id)
    cli.ok("users", "remove", "ada")
    with cli.store() as store:
        assert store.users() == [] and store.tokens() == []
        assert store.authenticate_token(token) is None
        assert len(store.acls()) == 3

    for output in cli.outputs:
        for secret in (PASSWORD, NEW_PASSWORD, token, token[3:]):
            assert secret not in output


def test_bad_input_on_the_command_line_writes_nothing(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data")
    cli.ok("users", "add", "ada", "--password-stdin", stdin=PASSWORD + "\n")
    with cli.store() as store:
        written = store.broker.end_offsets(AUTH_TOPIC)[0]
    # no terminal to ask on, and the password is never taken as an argument
    assert "--password-stdin" in cli.fails("users", "add", "bob", stdin="")
    assert "no password on stdin" in cli.fails(
        "users", "passwd", "ada", "--password-stdin", stdin=""
    )
    assert "invalid principal 'ada'" in cli.fails(
        "acls", "add", "--allow", "User:ada", "--allow", "ada", "-o", "read", "--topic", "t"
    )
    assert "unknown operation 'fly'" in cli.fails(
        "acls", "add", "--allow", "User:ada", "-o", "fly", "--topic", "t"
    )
    assert "no ACL" in cli.fails("acls", "remove", "--allow", "User:ada", "-o", "read", "--cluster")
    assert "no user 'bob'" in cli.fails("tokens", "create", "--user", "bob", "--name", "ci")
    with cli.store() as store:
        assert store.broker.end_offsets(AUTH_TOPIC)[0] == written
        assert [u.name for u in store.users()] == ["ada"] and store.acls() == []
    for output in cli.outputs:
        assert PASSWORD not in output
