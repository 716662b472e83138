#!/usr/bin/env bash
# The start command (README): installs dependencies, starts the local stack, applies the
# migrations, then runs the gateway, the inbox worker, the relay and the consumers in the
# foreground (Ctrl-C stops the app; `bash infra/local/stack.sh stop` stops the services).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm 11 here rejects any lock file in `npm ci` (it drops other platforms' optional
  # packages from the lock, then reports them missing); `npm install` follows the lock.
  npm install --no-audit --no-fund
fi
bash infra/local/stack.sh start
# shellcheck source=local/env.sh
source infra/local/env.sh
node bin/billing-ledger.js migrate
exec node bin/billing-ledger.js start "$@"
