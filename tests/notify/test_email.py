"""E-mail notifications against a local SMTP server (aiosmtpd): plain, STARTTLS with
AUTH and implicit TLS, with a certificate made for the test; a 4xx answer is tried
again, a 5xx parks the record."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import ssl
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope

from logway.broker import Broker
from tests.notify.conftest import parked, running, server_context, spec
from tests.notify.receiver import until


class Mailbox:
    """An SMTP handler keeping what it accepts; ``answers`` are given first, in turn."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.answers = list(answers or [])

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.answers:
            return self.answers.pop(0)
        self.envelopes.append(envelope)
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return server_context(certificate)


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = (data.login, data.password) == (b"alerts@shop.test", b"s3cret:pw")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp(request: pytest.FixtureRequest) -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox(getattr(request, "param", None))
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def _produce(broker: Broker) -> None:
    broker.create_topic("orders")
    for i in range(3):
        broker.produce("orders", json.dumps({"id": i, "who": "Ada"}).encode())


def test_plain_smtp_with_a_subject_from_the_template(
    broker: Broker, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    _produce(broker)
    to = f"smtp://127.0.0.1:{port}?from=logway@shop.test&to=ops@shop.test,dev@shop.test"
    notify = spec("orders", to=to, template="Subject: order {id}\n\n{who} ordered #{id}.")

    async def main() -> None:
        async with running(broker, notify) as rs:
            await until(lambda: rs[0].stats.delivered == 3, what="3 e-mails")

    asyncio.run(main())
    by_subject = {m["Subject"]: m for m in mailbox.messages}
    assert sorted(by_subject) == ["order 0", "order 1", "order 2"]
    m = by_subject["order 1"]
    assert m["From"] == "logway@shop.test" and m["To"] == "ops@shop.test, dev@shop.test"
    assert m.get_content().strip() == "Ada ordered #1."
    assert m["Message-ID"] == "<orders.0.1@logway>"
    assert m["Idempotency-Key"] == "orders/0/1"
    assert mailbox.envelopes[0].rcpt_tos == ["ops@shop.test", "dev@shop.test"]


@pytest.mark.parametrize("smtp", [["451 4.3.0 try again later"]], indirect=True)
def test_a_4xx_answer_is_tried_again(broker: Broker, smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    _produce(broker)
    to = f"smtp://127.0.0.1:{port}?from=a@shop.test&to=b@shop.test&subject=Order"

    async def main() -> None:
        async with running(broker, spec("orders", to=to, in_flight=1)) as rs:
            await until(lambda: rs[0].stats.delivered == 3, what="3 e-mails")
            assert rs[0].stats.retries == 1

    asyncio.run(main())
    assert [m["Subject"] for m in mailbox.messages] == ["Order"] * 3


@pytest.mark.parametrize("smtp", [["554 5.7.1 rejected"]], indirect=True)
def test_a_5xx_answer_parks_the_record(broker: Broker, smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    _produce(broker)
    to = f"smtp://127.0.0.1:{port}?from=a@shop.test&to=b@shop.test"

    async def main() -> None:
        async with running(broker, spec("orders", to=to, in_flight=1)) as rs:
            await until(lambda: rs[0].stats.delivered == 2 and rs[0].stats.failed == 1)

    asyncio.run(main())
    assert len(mailbox.messages) == 2
    (dead,) = parked(broker, "orders-notify-failed")
    h = dict(dead.headers)
    assert h["logway.notify.status"] == b"554" and h["logway.attempts"] == b"1"
    assert b"rejected" in h["logway.notify.response"]


def test_starttls_and_auth(broker: Broker, certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=_login,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    _produce(broker)
    cafile = certificate[0]
    base = f"127.0.0.1:{port}?from=alerts@shop.test&to=ops@shop.test&starttls=1&cafile={cafile}"
    good = spec(
        "orders",
        name="good",
        to=f"smtp://alerts%40shop.test:s3cret%3Apw@{base}",
        template=string.Template("Subject: order $id\n\npaid"),
    )
    bad = spec("orders", name="bad", to=f"smtp://alerts%40shop.test:wrong@{base}")

    async def main() -> None:
        async with running(broker, good, bad) as (g, b):
            await until(lambda: g.stats.delivered == 3 and b.stats.failed == 3)

    try:
        asyncio.run(main())
    finally:
        controller.stop()
    assert sorted(m["Subject"] for m in mailbox.messages) == ["order 0", "order 1", "order 2"]
    dead = parked(broker, "orders-notify-failed")
    assert [dict(d.headers)["logway.notify.status"] for d in dead] == [b"535"] * 3


def test_implicit_tls(broker: Broker, certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, ssl_context=_server_context(certificate)
    )
    controller.start()
    _produce(broker)
    to = f"smtps://127.0.0.1:{port}?from=a@shop.test&to=b@shop.test&cafile={certificate[0]}"

    async def main() -> None:
        async with running(broker, spec("orders", to=to)) as rs:
            await until(lambda: rs[0].stats.delivered == 3, what="3 e-mails")

    try:
        asyncio.run(main())
    finally:
        controller.stop()
    assert len(mailbox.messages) == 3
