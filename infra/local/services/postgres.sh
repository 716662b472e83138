# shellcheck shell=bash
# PostgreSQL 15 (Debian package), 127.0.0.1:54320, user postgres, trust auth.

PG_PORT=54320
PG_DB=billing_ledger
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR="$DATA_ROOT/postgres"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"

postgres_port() { echo "$PG_PORT"; }

postgres_apt_packages() {
  [[ -x "$PG_BIN/postgres" ]] || echo postgresql
}

postgres_install() { :; }

as_postgres() { runuser -u postgres -- "$@"; }

postgres_pid() { our_pid "$PG_DATA/postmaster.pid" "$PG_DATA"; }

postgres_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; }

postgres_ensure_db() {
  local psql=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  if [[ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]]; then
    "${psql[@]}" -c "CREATE DATABASE $PG_DB"
    log postgres "created database $PG_DB"
  fi
}

postgres_start() {
  already_running postgres "$PG_PORT" && return 0
  mkdir -p "$PG_DIR"
  chmod o+x "$DATA_ROOT"
  chown postgres: "$PG_DIR"
  as_postgres test -w "$PG_DIR" ||
    fail postgres "" "user postgres cannot reach $PG_DIR (a parent directory is not traversable); put the repo elsewhere, e.g. under /work or /tmp"
  if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
    log postgres "initdb $PG_DATA"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
      fail postgres "$PG_DIR/initdb.log" "initdb failed"
  fi
  log postgres "starting on 127.0.0.1:$PG_PORT"
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null ||
    fail postgres "$PG_LOG" "pg_ctl start failed"
  wait_until postgres 30 "$PG_LOG" "" postgres_ready
  postgres_ensure_db
  log postgres "up (pid $(postgres_pid || echo '?'))"
}

postgres_stop() {
  local pid
  if ! pid="$(postgres_pid)"; then
    log_not_ours postgres "$PG_PORT"
    return 0
  fi
  log postgres "stopping pid $pid"
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
  log postgres "stopped"
}

postgres_status() { print_status postgres "$PG_PORT" "$(postgres_pid || true)"; }
