"""``logway serve``: run the log behind the gRPC and HTTP ports until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import logging
import os
import sys
from typing import Any

import logway
from logway.errors import InvalidArgumentError
from logway.units import parse_duration_ms, parse_size

SWITCH_INTERVAL_S = 0.0005


def seconds(text: str) -> float:
    """A duration flag ("30s", "2m", or milliseconds) in seconds."""
    value = parse_duration_ms(text, "--stall-timeout") / 1000
    if value <= 0:
        raise InvalidArgumentError("--stall-timeout must be more than 0")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="serve the log to many clients: gRPC, REST, SSE, gRPC-Web")
    env = os.environ.get
    serve.add_argument(
        "--data",
        default=env("LOGWAY_DATA", "./logway-data"),
        help="data directory (default ./logway-data; also $LOGWAY_DATA)",
    )
    serve.add_argument(
        "--host",
        default=env("LOGWAY_HOST", "127.0.0.1"),
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)",
    )
    serve.add_argument(
        "--grpc-port",
        type=int,
        default=int(env("LOGWAY_GRPC_PORT", "7070")),
        help="gRPC (default 7070; 0 picks a free port)",
    )
    serve.add_argument(
        "--http-port",
        type=int,
        default=int(env("LOGWAY_HTTP_PORT", "8080")),
        help="REST, Server-Sent Events and gRPC-Web (default 8080)",
    )
    serve.add_argument(
        "--app",
        metavar="MODULE[:ATTR]",
        default=env("LOGWAY_APP"),
        help="a logway.App to serve: its topics, gRPC services and pages "
        "(e.g. examples.microblog.app:app)",
    )
    serve.add_argument(
        "--stall-timeout",
        type=seconds,
        default=env("LOGWAY_STALL_TIMEOUT", "30s"),
        help="disconnect a subscriber that reads nothing for this long (default 30s); "
        "it can resume from its last offset",
    )
    serve.add_argument(
        "--kafka-port",
        type=kafka_port,
        default=env("LOGWAY_KAFKA_PORT", "9092"),
        help="the Kafka wire protocol, for Kafka's own clients and tools (default 9092; "
        "0 turns it off; 'auto' picks a free port)",
    )
    serve.add_argument(
        "--kafka-advertised",
        metavar="HOST:PORT",
        default=env("LOGWAY_KAFKA_ADVERTISED"),
        help="the address Kafka clients are told to connect to (default: where it listens)",
    )
    serve.add_argument(
        "--kafka-max-request-bytes",
        type=size_flag,
        default=env("LOGWAY_KAFKA_MAX_REQUEST_BYTES", "100MB"),
        help="close a Kafka connection that sends a larger request (default 100MB, "
        "Kafka's socket.request.max.bytes)",
    )
    serve.add_argument(
        "--kafka-auto-create-topics",
        action="store_true",
        default=flag(env("LOGWAY_KAFKA_AUTO_CREATE_TOPICS")),
        help="create a topic a Kafka client asks about that does not exist (Kafka's "
        "auto.create.topics.enable; off by default)",
    )
    serve.add_argument(
        "--auth",
        action="store_true",
        default=flag(env("LOGWAY_AUTH")),
        help="require credentials on every door and check ACLs (users, tokens and ACLs "
        "from `logway users|tokens|acls`; also $LOGWAY_AUTH=1)",
    )
    serve.add_argument(
        "--allow-anonymous",
        action="store_true",
        default=flag(env("LOGWAY_ALLOW_ANONYMOUS")),
        help="with --auth: callers without credentials are User:ANONYMOUS, allowed what "
        "ACLs allow it; without --auth: serve a non-loopback address open to anyone",
    )
    serve.add_argument(
        "--session-ttl",
        default=env("LOGWAY_SESSION_TTL", "12h"),
        help="how long a browser's sign-in lasts (default 12h; with --auth)",
    )
    tls = serve.add_argument_group("TLS", "encrypt every port (gRPC, HTTP, Kafka)")
    tls.add_argument("--tls-cert", default=env("LOGWAY_TLS_CERT"), help="certificate, PEM")
    tls.add_argument("--tls-key", default=env("LOGWAY_TLS_KEY"), help="its private key, PEM")
    tls.add_argument(
        "--tls-client-ca",
        default=env("LOGWAY_TLS_CLIENT_CA"),
        help="require client certificates signed by this CA (mutual TLS)",
    )
    oidc = serve.add_argument_group(
        "OpenID Connect", "accept JWT bearer tokens from an outside issuer (with --auth)"
    )
    oidc.add_argument(
        "--oidc-issuer", default=env("LOGWAY_OIDC_ISSUER"), help="the issuer (iss) tokens name"
    )
    oidc.add_argument(
        "--oidc-jwks-url",
        default=env("LOGWAY_OIDC_JWKS_URL"),
        help="where the issuer's keys are (read again when a token names a new key id)",
    )
    oidc.add_argument(
        "--oidc-jwks-file", default=env("LOGWAY_OIDC_JWKS_FILE"), help="the issuer's keys, a file"
    )
    oidc.add_argument(
        "--oidc-audience",
        default=env("LOGWAY_OIDC_AUDIENCE"),
        help="the audience (aud) tokens must name (default: not checked)",
    )
    oidc.add_argument(
        "--oidc-algorithms",
        default=env("LOGWAY_OIDC_ALGORITHMS", "RS256,ES256"),
        help="allowed signature algorithms (default RS256,ES256)",
    )
    oidc.add_argument(
        "--oidc-groups-claim",
        default=env("LOGWAY_OIDC_GROUPS_CLAIM", "groups"),
        help="the claim that lists the groups (default groups; cognito:groups for Cognito)",
    )
    oidc.add_argument(
        "--oidc-username-claim",
        default=env("LOGWAY_OIDC_USERNAME_CLAIM", "sub"),
        help="the claim that names the user (default sub)",
    )
    oidc.add_argument(
        "--oidc-leeway",
        default=env("LOGWAY_OIDC_LEEWAY", "60s"),
        help="clock skew allowed on exp and nbf (default 60s)",
    )
    serve.set_defaults(run=run)


def session_ttl(text: str) -> float:
    value = parse_duration_ms(text, "--session-ttl") / 1000
    if value < 60:
        raise InvalidArgumentError("--session-ttl must be at least a minute")
    return value


def tls_files(args: argparse.Namespace) -> Any:
    """The TLS files the flags name (checked now), or None."""
    from logway.server.tls import TlsFiles

    if not (args.tls_cert or args.tls_key or args.tls_client_ca):
        return None
    if not (args.tls_cert and args.tls_key):
        raise InvalidArgumentError("TLS needs both --tls-cert and --tls-key")
    return TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca)


def oidc_verifier(args: argparse.Namespace) -> Any:
    """The OIDC verifier the flags describe, or None when no issuer is given."""
    from logway.auth.oidc import OidcVerifier

    if not args.oidc_issuer:
        if args.oidc_jwks_url or args.oidc_jwks_file:
            raise InvalidArgumentError("--oidc-jwks-url/--oidc-jwks-file need --oidc-issuer")
        return None
    if not args.auth:
        raise InvalidArgumentError("--oidc-issuer needs --auth")
    return OidcVerifier(
        args.oidc_issuer,
        jwks_url=args.oidc_jwks_url,
        jwks_file=args.oidc_jwks_file,
        audience=args.oidc_audience,
        algorithms=[a.strip() for a in args.oidc_algorithms.split(",") if a.strip()],
        groups_claim=args.oidc_groups_claim,
        username_claim=args.oidc_username_claim,
        leeway_s=parse_duration_ms(args.oidc_leeway, "--oidc-leeway") / 1000,
    )


def flag(text: str | None) -> bool:
    return (text or "").strip().lower() in ("1", "true", "yes", "on")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, auth: bool, allow_anonymous: bool) -> None:
    """Refuse to serve a network open to anyone unless told to."""
    if not auth and not allow_anonymous and not is_loopback(host):
        raise InvalidArgumentError(
            f"--host {host} is reachable from other machines and authentication is off: "
            "anyone could read, write and delete every topic. Add users and ACLs "
            "(logway users add, logway acls add) and serve with --auth, or give "
            "--allow-anonymous to serve it open anyway"
        )


def kafka_port(text: str) -> int | None:
    """The --kafka-port flag: a port, 0 (off: None) or 'auto' (a free port: 0)."""
    if text == "auto":
        return 0
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--kafka-port must be a port, 0 or 'auto', not {text!r}"
        ) from None
    if not 0 <= port < 65536:
        raise argparse.ArgumentTypeError("--kafka-port must be 0-65535 or 'auto'")
    return port or None


def size_flag(text: str) -> int:
    value = parse_size(text, "--kafka-max-request-bytes")
    if value < 1024:
        raise InvalidArgumentError("--kafka-max-request-bytes must be at least 1KB")
    return value


def run(args: argparse.Namespace) -> int:
    from logway.app import load_app
    from logway.server.access import Access
    from logway.server.runner import serve

    for name in ("grpc_port", "http_port"):
        if not 0 <= getattr(args, name) < 65536:
            raise InvalidArgumentError(f"--{name.replace('_', '-')} must be 0-65535")
    check_exposure(args.host, args.auth, args.allow_anonymous)
    oidc = oidc_verifier(args)
    tls = tls_files(args)
    session_ttl(args.session_ttl)  # checked before anything starts
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # worker threads (fsyncs, file reads) hand results back to the event loop: a
    # shorter GIL switch interval than Python's 5 ms keeps that hand-over from adding
    # milliseconds to every acknowledgement
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = load_app(args.app) if args.app else None
    with logway.connect(f"file:{args.data}") as broker:
        access = Access(
            broker,
            enabled=args.auth,
            allow_anonymous=args.allow_anonymous,
            oidc=oidc,
            certificates=bool(args.tls_client_ca),
        )

        scheme = "https" if tls is not None else "http"

        def ready(server: Any) -> None:
            # what start-up made (modules, the app, servers) lives as long as the
            # process: leave it out of the collector's full passes, which otherwise
            # pause every request for tens of milliseconds
            gc.freeze()
            print(
                f"logway serving {os.path.abspath(args.data)}: grpc on {server.host}:"
                f"{server.grpc_port} (logway://{server.host}:{server.grpc_port}), "
                f"http on {scheme}://{server.host}:{server.http_port}/"
                + (
                    f", kafka on {server.kafka.host}:{server.kafka.port}"
                    if server.kafka is not None
                    else ""
                ),
                flush=True,
            )
            if app is not None and app.statics:
                print(
                    f"open {scheme}://{server.host}:{server.http_port}/ for {app.name}", flush=True
                )

        asyncio.run(
            serve(
                broker,
                host=args.host,
                grpc_port=args.grpc_port,
                http_port=args.http_port,
                ready=ready,
                app=app,
                stall_timeout=args.stall_timeout,
                access=access,
                tls=tls,
                session_ttl_s=session_ttl(args.session_ttl),
                kafka=None
                if args.kafka_port is None
                else {
                    "port": args.kafka_port,
                    "advertised": args.kafka_advertised,
                    "identity": os.path.abspath(args.data),
                    "max_request_bytes": args.kafka_max_request_bytes,
                    "auto_create_topics": args.kafka_auto_create_topics,
                },
            )
        )
    print("logway stopped", file=sys.stderr)
    return 0
