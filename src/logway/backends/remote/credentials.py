"""How the remote backend proves who it is to a ``logway serve`` with ``--auth``, and
reaches one that serves TLS.

- ``token=`` (or ``$LOGWAY_TOKEN``): an API token from ``logway tokens create``, sent as
  ``authorization: Bearer …`` with every call, streams included (``RemoteBroker``
  passes the header it makes here to each call);
- ``user=`` and ``password=``: a user's password, sent as ``Basic`` credentials (the
  server checks it once and remembers the header, so repeating it costs nothing);
- ``tls=True`` (implied by ``ca_file``): a TLS channel, checked against the system's
  roots or ``ca_file``; ``cert_file`` + ``key_file`` present a client certificate.

Credentials travel in the clear without TLS: use it off loopback.
"""

from __future__ import annotations

import base64
import os

import grpc

from logway.errors import InvalidArgumentError
from logway.v1 import channel as options


def _read(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read the {what} {path!r}: {exc.strerror}") from None


def authorization(
    token: str | None = None, user: str | None = None, password: str | None = None
) -> str | None:
    """The ``authorization`` header value for these credentials (None: none given)."""
    if token is None and user is None:
        token = os.environ.get("LOGWAY_TOKEN") or None
    if token is not None and user is not None:
        raise InvalidArgumentError("give a token or a user and password, not both")
    if token is not None:
        if not isinstance(token, str) or not token.strip() or "\n" in token:
            raise InvalidArgumentError("a token must be a one-line string (lw_…)")
        return f"Bearer {token.strip()}"
    if user is not None or password is not None:
        if not user or password is None:
            raise InvalidArgumentError("give both user= and password=")
        if ":" in user:
            raise InvalidArgumentError("a user name cannot contain ':'")
        pair = f"{user}:{password}".encode()
        return "Basic " + base64.b64encode(pair).decode()
    return None


def open_channel(
    target: str,
    *,
    tls: bool = False,
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> grpc.Channel:
    """A channel to ``target``: TLS when asked (or a CA or client certificate is given)."""
    if ca_file or cert_file:
        tls = True
    if bool(cert_file) != bool(key_file):
        raise InvalidArgumentError("a client certificate needs both cert_file and key_file")
    if tls:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(ca_file, "CA file"),
            private_key=_read(key_file, "key file"),
            certificate_chain=_read(cert_file, "certificate file"),
        )
        return grpc.secure_channel(target, credentials, options=options.OPTIONS)
    return grpc.insecure_channel(target, options=options.OPTIONS)
