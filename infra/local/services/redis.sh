# shellcheck shell=bash
# Redis 7 (Debian package), 127.0.0.1:63790, persistent: append-only file fsynced every second
# (at most ~1 s of writes lost on a crash; a restart reloads the keys from .local/redis/).

REDIS_PORT=63790
REDIS_DIR="$DATA_ROOT/redis"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
# redis-server retitles itself "redis-server 127.0.0.1:63790".
REDIS_MARKER="127.0.0.1:$REDIS_PORT"

redis_port() { echo "$REDIS_PORT"; }

redis_apt_packages() {
  command -v redis-server >/dev/null || echo redis-server
}

redis_install() { :; }

redis_pid() { our_pid "$REDIS_PIDFILE" "$REDIS_MARKER"; }

redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

redis_start() {
  already_running redis "$REDIS_PORT" && return 0
  mkdir -p "$REDIS_DIR"
  start_daemon redis "$REDIS_PORT" "$REDIS_PIDFILE" "$REDIS_MARKER" "$REDIS_LOG" 30 redis_ready \
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
    --save '' --appendonly yes --appendfsync everysec --daemonize no --logfile "$REDIS_LOG"
}

redis_stop() { stop_pid redis "$REDIS_PIDFILE" "$REDIS_MARKER" 30 "$REDIS_PORT"; }

redis_status() { print_status redis "$REDIS_PORT" "$(redis_pid || true)"; }
