"""``logway serve``: run the log behind the gRPC port until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import logway
from logway.errors import InvalidArgumentError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="serve the log to many clients over gRPC")
    serve.add_argument(
        "--data",
        default=os.environ.get("LOGWAY_DATA", "./logway-data"),
        help="data directory (default ./logway-data; also $LOGWAY_DATA)",
    )
    serve.add_argument(
        "--host",
        default=os.environ.get("LOGWAY_HOST", "127.0.0.1"),
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)",
    )
    serve.add_argument(
        "--grpc-port", type=int, default=int(os.environ.get("LOGWAY_GRPC_PORT", 7070))
    )
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logway.server.runner import serve

    if not 0 <= args.grpc_port < 65536:
        raise InvalidArgumentError(f"--grpc-port must be 0-65535, not {args.grpc_port}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with logway.connect(f"file:{args.data}") as broker:

        def ready(server) -> None:  # type: ignore[no-untyped-def]
            print(
                f"logway serving {os.path.abspath(args.data)}: "
                f"grpc on {server.host}:{server.grpc_port} (logway://{server.host}:{server.grpc_port})",
                flush=True,
            )

        asyncio.run(serve(broker, host=args.host, grpc_port=args.grpc_port, ready=ready))
    print("logway stopped", file=sys.stderr)
    return 0
