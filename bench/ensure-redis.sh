#!/usr/bin/env bash
# Make sure `redis-server` is on PATH for the Redis Streams peer benchmark.
# Installs the Debian package only when it is missing; quiet unless something fails.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "ensure-redis: redis-server is missing and this is not root; install it with" \
            "'apt-get install -y redis-server' as root" >&2
        exit 1
    fi
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "ensure-redis: installing redis-server (apt-get)" >&2
if ! {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            redis-server
} >"$log" 2>&1; then
    cat "$log" >&2
    echo "ensure-redis: installing redis-server failed (output above)" >&2
    exit 1
fi

if ! command -v redis-server >/dev/null 2>&1; then
    echo "ensure-redis: redis-server was installed but is not on PATH" >&2
    exit 1
fi
