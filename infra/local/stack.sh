#!/usr/bin/env bash
# Local stack, natively (no Docker): install when missing, start, stop, status.
#   infra/local/stack.sh install|start|stop|status|restart [service...]
# Services: postgres redis clickhouse kafka stripe-mock (default: all).
# Data, logs and pids live in <repo>/.local/. See infra/local/README.md.
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ALL_SERVICES=(postgres redis clickhouse kafka stripe-mock)
for svc in "${ALL_SERVICES[@]}"; do
  # shellcheck source=/dev/null
  source "$LOCAL_DIR/services/$svc.sh"
done

usage() {
  echo "usage: $0 install|start|stop|status|restart [${ALL_SERVICES[*]}]" >&2
  exit 2
}

# fn SERVICE ACTION: the function implementing ACTION for SERVICE.
fn() { echo "${1//-/_}_$2"; }

# run_step SERVICE COMMAND...: runs COMMAND in a subshell with errexit
# honoured, so one failing service does not stop the others; failures are
# collected in FAILED.
FAILED=()
run_step() {
  local svc="$1" rc
  shift
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  ((rc == 0)) || FAILED+=("$svc")
}

failed() { [[ " ${FAILED[*]} " == *" $1 "* ]]; }

# One apt-get for every missing package, then each service's own install.
install_services() {
  local svc pkgs=()
  for svc in "$@"; do
    mapfile -t -O "${#pkgs[@]}" pkgs < <("$(fn "$svc" apt_packages)")
  done
  if ((${#pkgs[@]})); then
    mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
    apt_install "${pkgs[@]}"
  fi
  for svc in "$@"; do
    run_step "$svc" "$(fn "$svc" install)"
  done
}

# Services whose port already answers are reported and left alone (they may
# belong to another checkout); the rest are installed if needed and started.
start_services() {
  local svc started=$SECONDS todo=()
  for svc in "$@"; do
    already_running "$svc" "$("$(fn "$svc" port)")" || todo+=("$svc")
  done
  if ((${#todo[@]} == 0)); then
    log stack "everything already running"
    return 0
  fi
  install_services "${todo[@]}"
  for svc in "${todo[@]}"; do
    failed "$svc" || run_step "$svc" "$(fn "$svc" start)"
  done
  if ((${#FAILED[@]} == 0)); then
    log stack "started ${todo[*]} in $((SECONDS - started))s"
  fi
}

# Reverse order: the app-facing services go before the stores.
stop_services() {
  local i
  for ((i = $#; i >= 1; i--)); do
    run_step "${!i}" "$(fn "${!i}" stop)"
  done
}

cmd="${1:-}"
[[ -n "$cmd" ]] || usage
shift
services=("$@")
((${#services[@]})) || services=("${ALL_SERVICES[@]}")
for svc in "${services[@]}"; do
  [[ " ${ALL_SERVICES[*]} " == *" $svc "* ]] || {
    echo "unknown service: $svc" >&2
    usage
  }
done

# One changing command at a time per checkout: a second start (another
# engineer, a test harness) waits for the first instead of racing it. flock
# -o closes the lock fd before running the script, so the daemons it starts do
# not inherit it (they would hold the lock for as long as they run).
if [[ "$cmd" != status && -z "${STACK_SH_LOCKED:-}" ]]; then
  mkdir -p "$DATA_ROOT"
  lock="$DATA_ROOT/.stack.lock"
  flock -n "$lock" true || log stack "another stack.sh is changing this checkout's stack; waiting"
  exec env STACK_SH_LOCKED=1 flock -o "$lock" bash "${BASH_SOURCE[0]}" "$cmd" "${services[@]}"
fi

case "$cmd" in
  install) install_services "${services[@]}" ;;
  start) start_services "${services[@]}" ;;
  stop) stop_services "${services[@]}" ;;
  restart)
    stop_services "${services[@]}"
    start_services "${services[@]}"
    ;;
  status) for svc in "${services[@]}"; do "$(fn "$svc" status)"; done ;;
  *) usage ;;
esac

if ((${#FAILED[@]})); then
  log stack "FAILED: ${FAILED[*]}" >&2
  exit 1
fi
