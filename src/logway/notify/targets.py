"""Where notifications go, by the target URL's scheme, and how each is sent.

- ``https://…`` / ``http://…``: a webhook, POSTed the content as JSON with
  ``Idempotency-Key`` (the record's ``topic/partition/offset``, the same on every
  attempt) and, given a secret, ``Logway-Timestamp`` and ``Logway-Signature``.
- ``slack+https://hooks.slack.com/…`` or ``slack:https://…``: a Slack incoming
  webhook, POSTed ``{"text": …}`` (a dict from ``shape`` is sent as it is, for blocks).
- ``smtp://user:pass@host:port?from=a@x&to=b@y,c@z&starttls=1`` and ``smtps://…``:
  an e-mail through smtplib; ``cafile=`` trusts a CA file, ``verify=0`` any certificate,
  ``subject=`` is the subject when the content gives none.

A send that fails raises ``SendError`` saying whether another attempt may succeed.
"""

from __future__ import annotations

import asyncio
import email.message
import email.utils
import json
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from logway.errors import InvalidArgumentError
from logway.notify import signing
from logway.notify.http1 import HttpError, Pool
from logway.notify.policy import parse_retry_after, retryable_status
from logway.notify.render import Content
from logway.records import Record

IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "Logway-Attempt"
EXCERPT_BYTES = 1024


class SendError(Exception):
    """One attempt failed: ``retryable`` says whether another may succeed, ``status``
    and ``body`` are the target's answer (when there was one), ``retry_after`` the
    seconds it asked to wait."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        body: bytes = b"",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.body = body[:EXCERPT_BYTES]
        self.retry_after = retry_after


def record_id(record: Record) -> str:
    """The key that names a record across attempts: ``topic/partition/offset``."""
    return f"{record.topic}/{record.partition}/{record.offset}"


def _text(content: Content) -> str:
    if isinstance(content, bytes):
        return content.decode("utf-8", "replace")
    if isinstance(content, str):
        return content
    return json.dumps(content, separators=(",", ":"))


@dataclass
class WebhookTarget:
    """POST to an HTTP(S) URL; ``slack`` wraps text as a Slack message."""

    url: str = field(repr=False)  # a Slack hook's path is its secret
    secret: bytes | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 10.0
    in_flight: int = 50
    slack: bool = False
    pool: Pool | None = None

    def describe(self) -> str:
        """The URL without credentials or query (a Slack hook's path is its secret)."""
        parts = urlsplit(self.url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        if self.slack:
            return f"slack+{parts.scheme}://{netloc}/…"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    async def open(self) -> None:
        self.pool = Pool(self.url, self.in_flight, self.timeout)

    async def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def body(self, content: Content) -> bytes:
        if self.slack and not isinstance(content, dict | list):
            if isinstance(content, bytes):
                try:  # a value that is already a Slack message goes as it is
                    if isinstance(json.loads(content), dict):
                        return content
                except ValueError:
                    pass
            content = {"text": _text(content)}
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode()
        return json.dumps(content, separators=(",", ":")).encode()

    async def send(self, content: Content, record: Record, attempt: int) -> None:
        assert self.pool is not None, "open() first"
        body = self.body(content)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "logway",
            IDEMPOTENCY_HEADER: record_id(record),
            ATTEMPT_HEADER: str(attempt),
            **self.headers,
        }
        if self.secret is not None:
            headers.update(signing.sign(self.secret, body))
        try:
            response = await self.pool.post(body, headers)
        except TimeoutError:
            raise SendError(f"no answer within {self.timeout:g} s", retryable=True) from None
        except (HttpError, OSError) as exc:
            raise SendError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        status = response.status
        if 200 <= status < 300:
            return
        raise SendError(
            f"HTTP {status} {response.reason}".rstrip(),
            retryable=retryable_status(status),
            status=status,
            body=response.body,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


@dataclass
class EmailTarget:
    """Send an e-mail through an SMTP server (smtplib, in a thread)."""

    host: str
    port: int
    sender: str
    recipients: list[str]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: bool = False
    subject: str = ""
    cafile: str | None = None
    verify: bool = True
    timeout: float = 10.0
    scheme: str = "smtp"

    def describe(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def message(self, content: Content, record: Record) -> email.message.EmailMessage:
        """The e-mail for ``content``: a dict's ``subject`` and ``body``, or text whose
        first line may be ``Subject: …`` (then a blank line, then the body)."""
        subject = self.subject or f"{record.topic} {record.partition}/{record.offset}"
        if isinstance(content, dict):
            subject = str(content.get("subject", subject))
            text = _text(content.get("body", ""))
        else:
            text = _text(content)
            first, _, rest = text.partition("\n")
            if first.lower().startswith("subject:"):
                subject = first[len("subject:") :].strip()
                text = rest[1:] if rest.startswith("\n") else rest
        msg = email.message.EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = subject
        msg["Date"] = email.utils.formatdate(record.timestamp / 1000)
        # the same on every attempt, so a mailbox can drop a repeated message
        msg["Message-ID"] = f"<{record.topic}.{record.partition}.{record.offset}@logway>"
        msg[IDEMPOTENCY_HEADER] = record_id(record)
        msg.set_content(text)
        return msg

    def deliver(self, msg: email.message.EmailMessage) -> None:
        """Send ``msg`` on a connection of its own (blocking)."""
        smtp: smtplib.SMTP
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.tls_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.starttls:
                smtp.starttls(context=self.tls_context())
            if self.user is not None:
                smtp.login(self.user, self.password or "")
            smtp.send_message(msg, self.sender, self.recipients)

    async def send(self, content: Content, record: Record, attempt: int) -> None:
        msg = self.message(content, record)
        try:
            await asyncio.to_thread(self.deliver, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendError(
                f"recipients refused: {exc.recipients}",
                retryable=all(400 <= c < 500 for c in codes),
                status=codes[0] if codes else None,
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error if isinstance(exc.smtp_error, bytes) else b""
            raise SendError(
                f"SMTP {exc.smtp_code}: {text.decode('utf-8', 'replace')}",
                retryable=400 <= exc.smtp_code < 500,
                status=exc.smtp_code,
                body=text,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(f"SMTP server: {exc}", retryable=False) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS
            raise SendError(f"{type(exc).__name__}: {exc}", retryable=True) from None


Target = WebhookTarget | EmailTarget


def _flag(query: dict[str, list[str]], name: str, default: bool) -> bool:
    values = query.get(name)
    if not values:
        return default
    value = values[-1].lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InvalidArgumentError(f"{name}= in an smtp URL must be 1 or 0, not {values[-1]!r}")


def email_target(url: str, timeout: float) -> EmailTarget:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = parse_qs(parts.query)
    known = {"from", "to", "starttls", "subject", "cafile", "verify"}
    unknown = sorted(set(query) - known)
    if unknown:
        raise InvalidArgumentError(
            f"unknown settings {unknown} in the smtp URL; known: {', '.join(sorted(known))}"
        )
    if not parts.hostname:
        raise InvalidArgumentError(f"an smtp URL needs a host: smtp://host:587?..., not {url!r}")
    sender = (query.get("from") or [""])[-1]
    recipients = [a.strip() for v in query.get("to", []) for a in v.split(",") if a.strip()]
    if "@" not in sender or not recipients or any("@" not in r for r in recipients):
        raise InvalidArgumentError(
            "an smtp URL needs from= and to= addresses: smtp://host:587?from=logway@example.com"
            "&to=ops@example.com,dev@example.com"
        )
    try:
        port = parts.port
    except ValueError:
        raise InvalidArgumentError(f"the port in {url!r} is not a number") from None
    implicit = scheme == "smtps"
    return EmailTarget(
        host=parts.hostname,
        port=port or (465 if implicit else 25),
        sender=sender,
        recipients=recipients,
        user=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
        implicit_tls=implicit,
        starttls=_flag(query, "starttls", False) and not implicit,
        subject=(query.get("subject") or [""])[-1],
        cafile=query["cafile"][-1] if query.get("cafile") else None,
        verify=_flag(query, "verify", True),
        timeout=timeout,
        scheme=scheme,
    )


def make_target(
    url: object,
    *,
    secret: bytes | None,
    headers: Mapping[str, str],
    timeout: float,
    in_flight: int,
) -> Target:
    """The target ``url`` names, or ``InvalidArgumentError`` saying which are known."""
    if not isinstance(url, str):
        raise InvalidArgumentError(f"to= must be a URL string, not {url!r}")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    slack = False
    if scheme in ("slack+https", "slack+http"):
        url, slack = url[len("slack+") :], True
    elif scheme == "slack":
        url, slack = url[len("slack:") :], True
    if slack or scheme in ("http", "https"):
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise InvalidArgumentError(f"to={url!r} is not an http(s) URL with a host")
        return WebhookTarget(url, secret, dict(headers), timeout, in_flight, slack)
    if scheme in ("smtp", "smtps"):
        if secret is not None or headers:
            raise InvalidArgumentError("secret= and headers= are for webhooks, not e-mail")
        return email_target(url, timeout)
    raise InvalidArgumentError(
        f"to={url!r}: unknown target; use https://… (webhook), slack+https://hooks.slack.com/…"
        " (Slack), or smtp://user:pass@host:587?from=…&to=…&starttls=1 (e-mail)"
    )
