#!/usr/bin/env bash
# The test command (README): installs dependencies, starts the local stack, then runs
# typecheck, the production build, lint and every test (unit + integration against the real
# services).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "npm dependencies"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm 11 here rejects any lock file in `npm ci` (it drops other platforms' optional
  # packages from the lock, then reports them missing); `npm install` follows the lock.
  npm install --no-audit --no-fund
else
  echo "node_modules up to date"
fi

step "local stack (PostgreSQL, Redis, ClickHouse, Kafka, stripe-mock)"
bash infra/local/stack.sh start

# shellcheck source=local/env.sh
source infra/local/env.sh

step "typecheck"
npx tsc --noEmit

step "build"
npm run --silent build

step "lint and format"
npx eslint .
npx prettier --check . --log-level warn

step "tests"
mkdir -p .local
status=0
npx jest --ci --verbose --json --outputFile=.local/jest-results.json "$@" || status=$?

printf '\n==> done in %ss\n' "$(( $(date +%s) - started ))"
# The closing line in the plain form CI reads: "N passed, N failed, N skipped".
node -e '
  const r = require("./.local/jest-results.json");
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
exit "$status"
