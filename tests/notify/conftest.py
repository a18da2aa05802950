"""Fixtures for notification tests: a broker in a temporary directory, and running
notifications until a condition holds."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import logway
from logway.broker import Broker
from logway.notify.runner import NotifyRunner, NotifySpec
from logway.notify.settings import NotifySettings


@pytest.fixture
def broker() -> Iterator[Broker]:
    with logway.connect("memory:") as b:
        yield b


def spec(source: str, name: str = "n", **settings: Any) -> NotifySpec:
    settings.setdefault("backoff", ("10ms", "50ms"))
    settings.setdefault("starting_position", "earliest")
    settings.setdefault("rate", None)
    return NotifySpec(name, source, NotifySettings.build(source, **settings))


@contextlib.asynccontextmanager
async def running(broker: Broker, *specs: NotifySpec) -> AsyncIterator[list[NotifyRunner]]:
    """Run ``specs`` as the app ``test`` while the block runs; stop them after it."""
    stopping = asyncio.Event()
    runners = [s.make_runner(broker, "test") for s in specs]
    tasks = [asyncio.ensure_future(r.run(stopping)) for r in runners]
    try:
        yield runners
    finally:
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


def parked(broker: Broker, topic: str) -> list[logway.Record]:
    """Every record on the failure topic ``topic``."""
    out: list[logway.Record] = []
    for p, end in broker.end_offsets(topic).items():
        if end:
            out += broker.fetch(topic, p, broker.start_offsets(topic)[p], max_records=10_000)
    return out


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    cert_path, key_path = d / "cert.pem", d / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A TLS server context with the test's certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context
