#!/usr/bin/env bash
# Makes a venv (cached), installs the RocketMQ 5.x Python client
# (rocketmq-python-client 5.1.2, gRPC) and runs the suite against a real
# Apogee started by test_grpc.py. Prints "N passed, M failed" last.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/apogee/python-grpc-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import rocketmq' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check rocketmq-python-client==5.1.2
fi
: "${APOGEE_BIN:=$(cd ../.. && pwd)/target/release/apogee}"
export APOGEE_BIN
exec "$VENV/bin/python" -u test_grpc.py "$@"
