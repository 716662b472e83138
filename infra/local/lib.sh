# shellcheck shell=bash
# Shared helpers for infra/local/stack.sh and services/*.sh. Sourced, not run.

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd)"
# shellcheck disable=SC2034 # used by services/*.sh
DATA_ROOT="$REPO_ROOT/.local"

# ---- output ---------------------------------------------------------------
# log SERVICE MESSAGE...: one line, prefixed with the service name.
log() {
  local svc="$1"
  shift
  printf '%-12s %s\n' "$svc" "$*"
}

warn() {
  local svc="$1"
  shift
  printf '%-12s WARNING: %s\n' "$svc" "$*" >&2
}

# fail SERVICE LOGFILE MESSAGE: print the error, the log's tail, return 1.
fail() {
  local svc="$1" logfile="$2"
  shift 2
  printf '%-12s ERROR: %s\n' "$svc" "$*" >&2
  if [[ -n "$logfile" ]]; then
    printf '%-12s see %s\n' "$svc" "$logfile" >&2
    if [[ -s "$logfile" ]]; then
      tail -n 15 "$logfile" | sed "s/^/$(printf '%-12s' "$svc") | /" >&2
    fi
  fi
  return 1
}

# ---- probes ---------------------------------------------------------------
# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# wait_until SERVICE TIMEOUT_S LOGFILE PID COMMAND...: poll COMMAND until it
# succeeds. Fails early when PID (if non-empty) dies, or after TIMEOUT_S.
wait_until() {
  local svc="$1" timeout_s="$2" logfile="$3" pid="$4"
  shift 4
  local deadline=$((SECONDS + timeout_s))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      fail "$svc" "$logfile" "process $pid exited before $svc answered"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      fail "$svc" "$logfile" "$svc did not answer within ${timeout_s}s"
      return 1
    fi
    sleep 0.25
  done
}

# ---- pidfiles -------------------------------------------------------------
# our_pid PIDFILE MARKER: print the pid when the pidfile names a live process
# whose command line contains MARKER (guards against recycled pids).
our_pid() {
  local pidfile="$1" marker="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(head -n 1 "$pidfile" | tr -dc '0-9')"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# spawn PIDFILE OUTFILE COMMAND...: run COMMAND detached (own session, no
# stdin), so it outlives this script; record its pid.
spawn() {
  local pidfile="$1" outfile="$2"
  shift 2
  setsid nohup "$@" </dev/null >>"$outfile" 2>&1 &
  echo $! >"$pidfile"
}

# already_running SERVICE PORT: true (and says so) when PORT already answers;
# such a server, ours or another checkout's, is left alone.
already_running() {
  port_open "$2" || return 1
  log "$1" "already running on $2"
}

# start_daemon SERVICE PORT PIDFILE MARKER LOGFILE TIMEOUT_S READY_FN COMMAND...
# Spawns COMMAND (output to stdout.log beside PIDFILE) unless our process is
# already there, then waits up to TIMEOUT_S for READY_FN to succeed; stops the
# process again if it never does.
start_daemon() {
  local svc="$1" port="$2" pidfile="$3" marker="$4" logfile="$5" timeout_s="$6" ready="$7" pid
  shift 7
  if pid="$(our_pid "$pidfile" "$marker")"; then
    log "$svc" "pid $pid is still starting; waiting"
  else
    mkdir -p "$(dirname "$pidfile")"
    log "$svc" "starting on 127.0.0.1:$port"
    spawn "$pidfile" "$(dirname "$pidfile")/stdout.log" "$@"
    pid="$(cat "$pidfile")"
  fi
  if ! wait_until "$svc" "$timeout_s" "$logfile" "$pid" "$ready"; then
    kill -TERM "$pid" 2>/dev/null && log "$svc" "stopped pid $pid, which never became ready"
    rm -f "$pidfile"
    return 1
  fi
  log "$svc" "up (pid $pid)"
}

# log_not_ours SERVICE PORT: what stop says when there is no process of ours.
log_not_ours() {
  if port_open "$2"; then
    log "$1" "running on $2 but not started by this checkout: left alone"
  else
    log "$1" "not running"
  fi
}

# stop_pid SERVICE PIDFILE MARKER TIMEOUT_S PORT: SIGTERM our process, wait
# for it to exit, SIGKILL after TIMEOUT_S. Leaves a server that is not ours
# (PORT answers but the pidfile names no live process of ours) alone.
stop_pid() {
  local svc="$1" pidfile="$2" marker="$3" timeout_s="$4" port="$5" pid
  if ! pid="$(our_pid "$pidfile" "$marker")"; then
    rm -f "$pidfile"
    log_not_ours "$svc" "$port"
    return 0
  fi
  log "$svc" "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout_s))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      warn "$svc" "still running after ${timeout_s}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "$svc" "stopped"
}

# print_status SERVICE PORT PID: the one status line per service.
print_status() {
  local svc="$1" port="$2" pid="$3" state="down" owner=""
  port_open "$port" && state="up"
  if [[ -n "$pid" ]]; then
    owner="pid $pid (this checkout)"
    [[ "$state" == up ]] || owner="pid $pid (starting or hung)"
  elif [[ "$state" == up ]]; then
    owner="(not started by this checkout)"
  fi
  log "$svc" "$(printf '%-4s 127.0.0.1:%-5s' "$state" "$port")${owner:+ $owner}"
}

# ---- installs -------------------------------------------------------------
APT_UPDATED=0

# apt_install PACKAGE...: install Debian packages non-interactively. Refreshes
# the package lists first when they are missing or older than a day, and once
# more if the install fails (stale lists point at removed .debs).
apt_install() {
  local -a apt=(apt-get -y -q -o DPkg::Lock::Timeout=300)
  export DEBIAN_FRONTEND=noninteractive
  if ((APT_UPDATED == 0)) &&
    [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -n 1)" ]]; then
    log apt "refreshing package lists"
    "${apt[@]}" update >/dev/null
    APT_UPDATED=1
  fi
  log apt "installing: $*"
  if ! "${apt[@]}" install --no-install-recommends "$@" >/dev/null; then
    log apt "install failed; refreshing package lists and retrying"
    "${apt[@]}" update >/dev/null
    APT_UPDATED=1
    "${apt[@]}" install --no-install-recommends "$@" >/dev/null
  fi
}

# http_ok URL [CURL_ARGS...]: true on a 2xx answer.
http_ok() {
  local url="$1"
  shift
  curl -fsS -m 3 -o /dev/null "$@" "$url"
}
