#!/usr/bin/env bash
# Installs ali-ons (pinned in package-lock.json) and runs the suite against a
# real Apogee started by run.js. Prints "N passed, M failed" last.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/ali-ons ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
: "${APOGEE_BIN:=$(cd ../.. && pwd)/target/release/apogee}"
export APOGEE_BIN
exec node run.js
