#!/usr/bin/env bash
# Browser tests of the web console: installs Debian's Chromium (if missing)
# and playwright-core (pinned in package-lock.json; it never downloads a
# browser), starts a real `apogee standalone` on random high ports and
# drives the console headless. Prints "N passed, M failed" last.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
: "${APOGEE_BIN:=$(cd ../.. && pwd)/target/release/apogee}"
export APOGEE_BIN
exec node run.js
