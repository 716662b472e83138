# shellcheck shell=bash
# The app's environment for the stack that infra/local/stack.sh runs.
#   source infra/local/env.sh
# A variable that is already set is kept, so callers can override any of them.

: "${PORT:=3000}"
: "${DATABASE_URL:=postgres://postgres@127.0.0.1:54320/billing_ledger}"
: "${REDIS_URL:=redis://127.0.0.1:63790}"
: "${CLICKHOUSE_URL:=http://127.0.0.1:18123}"
: "${KAFKA_BROKERS:=127.0.0.1:19092}"
: "${STRIPE_API_URL:=http://127.0.0.1:12111}"
# stripe-mock rejects (401) any key that is not exactly three '_'-separated
# parts, so not sk_test_local_key.
: "${STRIPE_SECRET_KEY:=sk_test_localkey}"
: "${STRIPE_WEBHOOK_SECRET:=whsec_local_test_secret}"
: "${EVENT_STORE:=postgres}"
: "${API_KEYS:=local-dev-key:*}"
export PORT DATABASE_URL REDIS_URL CLICKHOUSE_URL KAFKA_BROKERS STRIPE_API_URL \
  STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET EVENT_STORE API_KEYS
