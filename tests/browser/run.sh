#!/usr/bin/env bash
# The browser test: Swagger UI at /docs and a page of another origin, in
# Debian's Chromium driven by playwright-core, against the real binary on
# SQLite. Installs Chromium (apt-get) and the npm packages (npm ci, from the
# committed package-lock.json) when they are missing.
#
#   tests/browser/run.sh [BINARY]     # default: target/debug/integration-points
#
# On a failure, screenshots are left in target/browser/.
set -euo pipefail
# The binary is resolved from the caller's directory, before the cd below.
binary=${1:+$(realpath "$1")}
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
binary=${binary:-$repo/target/debug/integration-points}

if [ ! -x /usr/bin/chromium ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi

rm -rf "$repo/target/browser"
INTEGRATION_POINTS_BIN="$binary" node --test --test-concurrency=1 .
