# shellcheck shell=bash
# ClickHouse 18.16 (Debian packages), HTTP 127.0.0.1:18123, TCP 19000,
# interserver 19009. Packaged config, private paths and ports as overrides.

CH_HTTP_PORT=18123
CH_TCP_PORT=19000
CH_INTERSERVER_PORT=19009
CH_DIR="$DATA_ROOT/clickhouse"
CH_DATA="$CH_DIR/data"
CH_LOG="$CH_DIR/clickhouse-server.log"
CH_PIDFILE="$CH_DIR/clickhouse.pid"

clickhouse_port() { echo "$CH_HTTP_PORT"; }

clickhouse_apt_packages() {
  command -v clickhouse-server >/dev/null || echo clickhouse-server
  command -v clickhouse-client >/dev/null || echo clickhouse-client
}

clickhouse_install() { :; }

clickhouse_pid() { our_pid "$CH_PIDFILE" "$CH_DATA/"; }

clickhouse_ready() { [[ "$(curl -fsS -m 2 "http://127.0.0.1:$CH_HTTP_PORT/" 2>/dev/null)" == Ok. ]]; }

clickhouse_start() {
  already_running clickhouse "$CH_HTTP_PORT" && return 0
  mkdir -p "$CH_DATA"/{tmp,user_files,format_schemas}
  start_daemon clickhouse "$CH_HTTP_PORT" "$CH_PIDFILE" "$CH_DATA/" "$CH_LOG" 60 clickhouse_ready \
    clickhouse-server --config-file=/etc/clickhouse-server/config.xml -- \
    --path="$CH_DATA/" --tmp_path="$CH_DATA/tmp/" \
    --user_files_path="$CH_DATA/user_files/" --format_schema_path="$CH_DATA/format_schemas/" \
    --http_port="$CH_HTTP_PORT" --tcp_port="$CH_TCP_PORT" \
    --interserver_http_port="$CH_INTERSERVER_PORT" --listen_host=127.0.0.1 \
    --logger.log="$CH_LOG" --logger.errorlog="$CH_DIR/clickhouse-server.err.log"
}

clickhouse_stop() { stop_pid clickhouse "$CH_PIDFILE" "$CH_DATA/" 60 "$CH_HTTP_PORT"; }

clickhouse_status() { print_status clickhouse "$CH_HTTP_PORT" "$(clickhouse_pid || true)"; }
