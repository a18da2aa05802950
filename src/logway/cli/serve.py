"""``logway serve``: run the log behind the gRPC and HTTP ports until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

import logway
from logway.errors import InvalidArgumentError
from logway.units import parse_duration_ms


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
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logway.app import load_app
    from logway.server.runner import serve

    for name in ("grpc_port", "http_port"):
        if not 0 <= getattr(args, name) < 65536:
            raise InvalidArgumentError(f"--{name.replace('_', '-')} must be 0-65535")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = load_app(args.app) if args.app else None
    with logway.connect(f"file:{args.data}") as broker:

        def ready(server: Any) -> None:
            print(
                f"logway serving {os.path.abspath(args.data)}: grpc on {server.host}:"
                f"{server.grpc_port} (logway://{server.host}:{server.grpc_port}), "
                f"http on http://{server.host}:{server.http_port}/",
                flush=True,
            )
            if app is not None and app.statics:
                print(f"open http://{server.host}:{server.http_port}/ for {app.name}", flush=True)

        asyncio.run(
            serve(
                broker,
                host=args.host,
                grpc_port=args.grpc_port,
                http_port=args.http_port,
                ready=ready,
                app=app,
                stall_timeout=args.stall_timeout,
            )
        )
    print("logway stopped", file=sys.stderr)
    return 0
