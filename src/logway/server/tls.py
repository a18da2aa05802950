"""TLS for the doors: a certificate and key (PEM files), and optionally the CA whose
client certificates are required (mutual TLS). The same files serve gRPC, HTTP
(REST, SSE, gRPC-Web) and the Kafka port, read once at start-up and checked then."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import grpc

from logway.errors import InvalidArgumentError


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read the TLS {what} {path!r}: {exc.strerror}") from None


def common_name(peercert: Any) -> str:
    """The subject common name of a verified peer certificate (``getpeercert()``), or
    "" when there is none."""
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str
    client_ca: str | None = None
    _context: ssl.SSLContext = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Load them now: a wrong file is an error at start-up, not at the first call."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidArgumentError(
                f"cannot use the TLS certificate {self.cert!r} with key {self.key!r}: {exc}"
            ) from None
        if self.client_ca is not None:
            try:
                context.load_verify_locations(self.client_ca)
            except (OSError, ssl.SSLError) as exc:
                raise InvalidArgumentError(
                    f"cannot use the client CA {self.client_ca!r}: {exc}"
                ) from None
            context.verify_mode = ssl.CERT_REQUIRED
        object.__setattr__(self, "_context", context)

    def server_context(self) -> ssl.SSLContext:
        """For asyncio servers (the Kafka port)."""
        return self._context

    def grpc_credentials(self) -> grpc.ServerCredentials:
        ca = _read(self.client_ca, "client CA") if self.client_ca else None
        return grpc.ssl_server_credentials(
            [(_read(self.key, "key"), _read(self.cert, "certificate"))],
            root_certificates=ca,
            require_client_auth=ca is not None,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl_certfile": self.cert, "ssl_keyfile": self.key}
        if self.client_ca is not None:
            options |= {"ssl_ca_certs": self.client_ca, "ssl_cert_reqs": ssl.CERT_REQUIRED}
        return options
