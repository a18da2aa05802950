"""``logway serve --session-ttl``: how long a browser's sign-in lasts."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

import logway
from logway.auth import AuthStore
from tests.servers import LogwayServer, logway_cli


@pytest.mark.slow
def test_a_sign_in_lasts_the_session_ttl(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = LogwayServer(data, "--auth", "--session-ttl", "2h")
    server.start()
    try:
        with logway.connect(f"file:{data}") as admin:
            AuthStore(admin).add_user("ada", "ada-password-1")
        before = time.time() * 1000
        answer = httpx.post(
            f"{server.http}/auth/login", json={"user": "ada", "password": "ada-password-1"}
        )
        assert answer.status_code == 200, answer.text
        expires = answer.json()["expires"]
        assert before + 7_190_000 <= expires <= time.time() * 1000 + 7_200_000
        assert "Max-Age=7200" in answer.headers["set-cookie"]
    finally:
        assert server.stop() == 0


def test_a_session_ttl_under_a_minute_is_refused(tmp_path: Path) -> None:
    done = logway_cli(
        None, "serve", "--data", str(tmp_path / "d"), "--kafka-port", "0", "--session-ttl", "5s"
    )
    assert done.returncode == 1 and "--session-ttl must be at least a minute" in done.stderr
    assert not (tmp_path / "d").exists()
