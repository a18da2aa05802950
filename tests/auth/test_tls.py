"""TLS on a real ``logway serve``: gRPC and HTTPS with a certificate from a test CA,
plaintext refused, and mutual TLS refusing a client without a certificate."""

from __future__ import annotations

import ssl
import time
from functools import partial
from pathlib import Path

import httpx
import pytest

import logway
from logway.auth import Acl, AuthStore
from logway.errors import InvalidArgumentError, LogwayError, PermissionDeniedError
from tests.auth.tlsca import CertificateAuthority
from tests.servers import LogwayServer, logway_cli


@pytest.mark.slow
def test_grpc_and_https_over_tls(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    cert, key = ca.issue("localhost", server=True)
    server = LogwayServer(tmp_path / "data", "--tls-cert", cert, "--tls-key", key)
    server.start()
    try:
        assert "https://" in "".join(server.output)
        with logway.connect(server.url, ca_file=str(ca.ca_file)) as broker:
            broker.create_topic("secret-news")
            broker.produce("secret-news", b"over TLS")
        with logway.connect(server.url, timeout=5) as plain, pytest.raises(LogwayError):
            plain.list_topics()  # a plaintext client gets nowhere
        base = f"https://127.0.0.1:{server.http_port}"
        topics = httpx.get(
            f"{base}/v1/topics", verify=ssl.create_default_context(cafile=ca.ca_file)
        ).json()
        assert "secret-news" in str(topics)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.http_port}/v1/topics", timeout=5)
        with pytest.raises(httpx.HTTPError):  # a certificate from nobody we trust
            httpx.get(f"{base}/v1/topics", timeout=5)
    finally:
        assert server.stop() == 0


@pytest.mark.slow
def test_mutual_tls_needs_a_client_certificate(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    cert, key = ca.issue("localhost", server=True)
    client_cert, client_key = ca.issue("ada", server=False)
    server = LogwayServer(
        tmp_path / "data",
        *("--tls-cert", cert, "--tls-key", key, "--tls-client-ca", str(ca.ca_file)),
    )
    server.start()
    try:
        ca_file = str(ca.ca_file)
        with logway.connect(
            server.url, ca_file=ca_file, cert_file=client_cert, key_file=client_key
        ) as broker:
            broker.create_topic("mtls")
        no_cert = logway.connect(server.url, ca_file=ca_file, timeout=5)
        with no_cert, pytest.raises(LogwayError):
            no_cert.list_topics()
        base = f"https://127.0.0.1:{server.http_port}"
        trusted = ssl.create_default_context(cafile=ca_file)
        trusted.load_cert_chain(client_cert, client_key)
        ok = httpx.get(f"{base}/v1/topics", verify=trusted)
        assert "mtls" in ok.text
        with pytest.raises(httpx.HTTPError):
            httpx.get(
                f"{base}/v1/topics", verify=ssl.create_default_context(cafile=ca_file), timeout=5
            )
    finally:
        assert server.stop() == 0


def test_bad_tls_files_stop_the_start(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    cert, _ = ca.issue("localhost", server=True)
    _, other_key = ca.issue("other", server=True)
    data = tmp_path / "data"
    for flags, message in (
        (("--tls-cert", cert), "both --tls-cert and --tls-key"),
        (("--tls-cert", cert, "--tls-key", other_key), "cannot use the TLS certificate"),
        (("--tls-cert", cert, "--tls-key", str(tmp_path / "nope.key")), "cannot use"),
    ):
        result = logway_cli(None, "serve", "--data", str(data), "--kafka-port", "0", *flags)
        assert result.returncode == 1 and message in result.stderr, result.stderr
    assert not data.exists()
    with pytest.raises(InvalidArgumentError):
        logway.connect("logway://127.0.0.1:1", cert_file=cert)  # a certificate without its key


def _keep(into: list[object], error: object, message: object) -> None:
    into.append(error)


@pytest.mark.slow
def test_a_client_certificate_names_its_user(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    cert, key = ca.issue("localhost", server=True)
    ada_cert, ada_key = ca.issue("ada", server=False)
    bob_cert, bob_key = ca.issue("bob", server=False)
    data = tmp_path / "data"
    server = LogwayServer(
        data,
        *("--auth", "--tls-cert", cert, "--tls-key", key, "--tls-client-ca", str(ca.ca_file)),
    )
    server.start()
    try:
        with logway.connect(f"file:{data}") as admin:
            admin.create_topic("mtls")
            AuthStore(admin).add_acl(Acl.of("User:ada", "write", "topic", "mtls"))
        ca_file = str(ca.ca_file)
        with logway.connect(
            server.url, ca_file=ca_file, cert_file=ada_cert, key_file=ada_key
        ) as ada:
            ada.produce("mtls", b"signed by ada's certificate")
        with (
            logway.connect(
                server.url, ca_file=ca_file, cert_file=bob_cert, key_file=bob_key
            ) as bob,
            pytest.raises(PermissionDeniedError, match="User:bob"),
        ):
            bob.produce("mtls", b"bob may not")
        base = f"https://127.0.0.1:{server.http_port}/v1/topics/mtls/records"
        for cert_file, key_file, status in ((ada_cert, ada_key, 200), (bob_cert, bob_key, 403)):
            context = ssl.create_default_context(cafile=ca_file)
            context.load_cert_chain(cert_file, key_file)
            answer = httpx.post(base, json={"records": [{"value": "over https"}]}, verify=context)
            assert answer.status_code == status, answer.text
        with logway.connect(f"file:{data}") as admin:
            assert admin.end_offsets("mtls") == {0: 2}
        # the Kafka port, as Kafka's SSL listener: no SASL, the certificate says who
        from confluent_kafka import KafkaError, Producer

        for cert_file, key_file, expected in (
            (ada_cert, ada_key, None),
            (bob_cert, bob_key, KafkaError.TOPIC_AUTHORIZATION_FAILED),
        ):
            outcome: list[object] = []
            producer = Producer(
                {
                    "bootstrap.servers": server.kafka,
                    "security.protocol": "SSL",
                    "ssl.ca.location": ca_file,
                    "ssl.certificate.location": cert_file,
                    "ssl.key.location": key_file,
                    "message.timeout.ms": 10_000,
                }
            )
            producer.produce("mtls", b"by certificate", on_delivery=partial(_keep, outcome))
            producer.flush(20)
            error = outcome[0] if outcome else "no answer"
            assert (error.code() if error is not None else None) == expected, error
        with logway.connect(f"file:{data}") as admin:
            assert admin.end_offsets("mtls") == {0: 3}
    finally:
        assert server.stop() == 0


@pytest.mark.slow
def test_the_kafka_port_over_tls_with_sasl_plain(tmp_path: Path) -> None:
    """Over TLS the Kafka port offers PLAIN too (the password travels encrypted)."""
    from confluent_kafka import Consumer, KafkaError, Producer

    ca = CertificateAuthority(tmp_path)
    cert, key = ca.issue("localhost", server=True)
    data = tmp_path / "data"
    server = LogwayServer(data, "--auth", "--tls-cert", cert, "--tls-key", key)
    server.start()
    try:
        with logway.connect(f"file:{data}") as admin:
            admin.create_topic("tls-news")
            store = AuthStore(admin)
            store.add_user("ada", "ada-password-1")
            store.add_acl(Acl.of("User:ada", "all", "topic", "tls-news"))
            store.add_acl(Acl.of("User:ada", "all", "group", "tls-readers"))
        common = {
            "bootstrap.servers": server.kafka,
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(ca.ca_file),
            "sasl.mechanisms": "PLAIN",
            "sasl.username": "ada",
            "sasl.password": "ada-password-1",
        }
        producer = Producer(common)
        delivered: list[object] = []
        producer.produce("tls-news", b"encrypted", on_delivery=lambda e, m: delivered.append(e))
        assert producer.flush(30) == 0 and delivered == [None]
        consumer = Consumer({**common, "group.id": "tls-readers", "auto.offset.reset": "earliest"})
        consumer.subscribe(["tls-news"])
        message = None
        deadline = time.monotonic() + 30
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(1)
        consumer.close()
        assert message is not None and message.error() is None and message.value() == b"encrypted"
        errors: list[KafkaError] = []
        wrong = Producer({**common, "sasl.password": "wrong", "error_cb": errors.append})
        wrong.produce("tls-news", b"refused")
        deadline = time.monotonic() + 30
        while not errors and time.monotonic() < deadline:
            wrong.poll(0.2)  # serves the error callback
        assert errors and errors[0].code() == KafkaError._AUTHENTICATION
        plaintext = Producer({**common, "security.protocol": "SASL_PLAINTEXT"})
        plaintext.produce("tls-news", b"in the clear")
        assert plaintext.flush(2) == 1  # not delivered: the port speaks only TLS
        with logway.connect(f"file:{data}") as admin:
            assert admin.end_offsets("tls-news") == {0: 1}
    finally:
        output = "".join(server.output)
        assert server.stop() == 0
    assert "ada-password-1" not in output
