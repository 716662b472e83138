#!/usr/bin/env bash
# The start command (README): installs dependencies, builds, starts the local stack, then runs
# the compiled gateway, inbox worker, relay and consumers in the foreground (migrations first).
# Ctrl-C or SIGTERM stops the app gracefully (a second one at once); `bash infra/local/stack.sh
# stop` stops the services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm 11 here rejects any lock file in `npm ci` (it drops other platforms' optional
  # packages from the lock, then reports them missing); `npm install` follows the lock.
  npm install --no-audit --no-fund
fi
# Always build (about 5 s): the app runs the compiled code, never a stale dist/.
npm run --silent build
bash infra/local/stack.sh start
# shellcheck source=local/env.sh
source infra/local/env.sh
# start applies the PostgreSQL migrations itself and creates the ClickHouse database once
# ClickHouse answers (`node dist/cli/main.js migrate` does both, and fails if one is down).
exec node dist/cli/main.js start "$@"
