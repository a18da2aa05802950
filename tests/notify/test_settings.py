"""Declaring notifications: the app's list, names, and bad settings refused at once;
signing, Retry-After and backoff on their own."""

from __future__ import annotations

import string
import time

import pytest

import logway
from logway.errors import InvalidArgumentError
from logway.notify import sign, verify
from logway.notify.policy import Backoff, parse_retry_after, retryable_status
from logway.notify.settings import parse_rate
from logway.notify.targets import EmailTarget, WebhookTarget


def test_app_notify_declares_a_spec_per_name() -> None:
    app = logway.App("shop")
    assert app.notify("orders", to="https://example.com/hook") == "orders-notify"
    name = app.notify("orders", to="slack+https://hooks.slack.com/services/T/B/X", name="ops")
    assert name == "ops"
    with pytest.raises(InvalidArgumentError, match="already has a notification"):
        app.notify("orders", to="https://example.com/other")
    first, ops = app.notifications
    assert (first.source, first.settings.on_failure) == ("orders", "orders-notify-failed")
    assert isinstance(ops.settings.target, WebhookTarget) and ops.settings.target.slack
    assert ops.settings.target.url == "https://hooks.slack.com/services/T/B/X"
    runner = first.make_runner(logway.connect("memory:"), app.name)
    assert runner.group == "shop.orders-notify" and runner.spec.source == "orders"


def test_smtp_urls() -> None:
    app = logway.App("shop")
    app.notify(
        "orders",
        to="smtp://me%40x.com:p%3Ass@mail.example.com:587?from=a@x.com&to=b@y.com,c@z.com"
        "&starttls=1",
        template=string.Template("Subject: order $id\n\npaid"),
    )
    target = app.notifications[0].settings.target
    assert isinstance(target, EmailTarget)
    assert (target.host, target.port, target.user, target.password) == (
        "mail.example.com",
        587,
        "me@x.com",
        "p:ss",
    )
    assert target.recipients == ["b@y.com", "c@z.com"] and target.starttls
    tls = logway.App("a")
    tls.notify("t", to="smtps://h?from=a@x.com&to=b@y.com")
    implicit = tls.notifications[0].settings.target
    assert isinstance(implicit, EmailTarget) and implicit.implicit_tls and implicit.port == 465


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"to": "ftp://x"}, "unknown target"),
        ({"to": "https://"}, "with a host"),
        ({"to": "smtp://h?to=b@y.com"}, "from= and to="),
        ({"to": "smtp://h?from=a@x.com&to=b@y.com&tls=1"}, "unknown settings"),
        ({"to": "smtp://h?from=a@x.com&to=b@y.com", "secret": "s"}, "for webhooks"),
        ({"filter": {"status": "paid"}}, "event pattern"),
        ({"template": "{unclosed"}, "malformed"),
        ({"template": string.Template("$")}, "malformed"),
        ({"template": "x", "shape": lambda r: r}, "not both"),
        ({"shape": 3}, "shape must be"),
        ({"timeout": "0s"}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff": ("2s", "1s")}, "above the longest"),
        ({"backoff": "1s"}, "backoff"),
        ({"rate": "fast"}, "rate"),
        ({"rate": "0/s"}, "rate"),
        ({"in_flight": 0}, "in_flight"),
        ({"on_failure": "orders"}, "another topic"),
        ({"on_failure": "bad name!"}, "bad name"),
        ({"starting_position": "middle"}, "starting_position"),
        ({"headers": {"X": 1}}, "headers"),
        ({"headers": {"X": "café ☕"}}, "Latin-1"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_settings_are_refused_when_declared(settings: dict[str, object], message: str) -> None:
    app = logway.App("shop")
    settings.setdefault("to", "https://example.com/hook")
    with pytest.raises((InvalidArgumentError, TypeError), match=message):
        app.notify("orders", **settings)  # type: ignore[arg-type]
    assert app.notifications == []


def test_rates() -> None:
    assert parse_rate("100/s") == 100
    assert parse_rate("30/m") == 0.5
    assert parse_rate("360/h") == 0.1
    assert parse_rate(None) is None
    assert parse_rate(5) == 5


def test_signature_round_trip_and_replay_window() -> None:
    headers = sign(b"k", b'{"a":1}', timestamp=1_700_000_000)
    header = headers["Logway-Signature"]
    assert header.startswith("t=1700000000,v1=") and headers["Logway-Timestamp"] == "1700000000"
    assert verify("k", b'{"a":1}', header, now=1_700_000_100)
    assert not verify("k", b'{"a":1}', header, now=1_700_000_000 + 301)  # a replay
    assert not verify("k", b'{"a":2}', header, now=1_700_000_000)
    assert not verify("k", b"", "garbage")


def test_retry_after_and_backoff() -> None:
    assert parse_retry_after("7") == 7
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(1_000_030))
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(30)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    b = Backoff(0.1, 1.0)
    assert all(0 <= b.delay(1) <= 0.1 for _ in range(100))
    assert all(0 <= b.delay(10) <= 1.0 for _ in range(100))
    assert b.delay(1, retry_after=5) >= 5
    assert [retryable_status(s) for s in (400, 401, 404, 408, 422, 429, 500, 503)] == [
        False,
        False,
        False,
        True,
        False,
        True,
        True,
        True,
    ]
