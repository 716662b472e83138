# shellcheck shell=bash
# stripe-mock (Stripe's API mock), built from the Go module proxy.
# HTTP 127.0.0.1:12111, HTTPS 127.0.0.1:12112.

STRIPE_MOCK_VERSION=v0.203.0
STRIPE_MOCK_PORT=12111
STRIPE_MOCK_HTTPS_PORT=12112
STRIPE_MOCK_DIR="$DATA_ROOT/stripe-mock"
BIN_DIR="$DATA_ROOT/bin"
STRIPE_MOCK_BIN="$BIN_DIR/stripe-mock"
STRIPE_MOCK_LOG="$STRIPE_MOCK_DIR/stdout.log"
STRIPE_MOCK_PIDFILE="$STRIPE_MOCK_DIR/stripe-mock.pid"

stripe_mock_port() { echo "$STRIPE_MOCK_PORT"; }

stripe_mock_apt_packages() {
  command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]] || echo golang-go
}

# The installed version is recorded beside the binary; a version bump here
# rebuilds it.
stripe_mock_install() {
  local stamp="$BIN_DIR/.stripe-mock.version"
  if [[ -x "$STRIPE_MOCK_BIN" && "$(cat "$stamp" 2>/dev/null)" == "$STRIPE_MOCK_VERSION" ]]; then
    return 0
  fi
  mkdir -p "$BIN_DIR" "$STRIPE_MOCK_DIR"
  log stripe-mock "go install github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  PATH="$PATH:/usr/local/go/bin" GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false \
    go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >"$STRIPE_MOCK_DIR/install.log" 2>&1 ||
    fail stripe-mock "$STRIPE_MOCK_DIR/install.log" "go install failed"
  echo "$STRIPE_MOCK_VERSION" >"$stamp"
}

stripe_mock_pid() { our_pid "$STRIPE_MOCK_PIDFILE" "$STRIPE_MOCK_BIN"; }

# stripe-mock accepts only keys of exactly three underscore-separated parts:
# sk_test_localkey answers 200, sk_test_local_key 401.
stripe_mock_ready() {
  http_ok "http://127.0.0.1:$STRIPE_MOCK_PORT/v1/customers/cus_123" -u sk_test_localkey:
}

stripe_mock_start() {
  already_running stripe-mock "$STRIPE_MOCK_PORT" && return 0
  start_daemon stripe-mock "$STRIPE_MOCK_PORT" "$STRIPE_MOCK_PIDFILE" "$STRIPE_MOCK_BIN" \
    "$STRIPE_MOCK_LOG" 30 stripe_mock_ready \
    "$STRIPE_MOCK_BIN" -http-addr "127.0.0.1:$STRIPE_MOCK_PORT" -https-addr "127.0.0.1:$STRIPE_MOCK_HTTPS_PORT"
}

stripe_mock_stop() { stop_pid stripe-mock "$STRIPE_MOCK_PIDFILE" "$STRIPE_MOCK_BIN" 15 "$STRIPE_MOCK_PORT"; }

stripe_mock_status() { print_status stripe-mock "$STRIPE_MOCK_PORT" "$(stripe_mock_pid || true)"; }
