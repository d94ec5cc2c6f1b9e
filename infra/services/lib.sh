# Shared helpers for the service scripts in infra/services/ (sourced, not run).
#
# Every service script has the same commands: install | start | stop | status | env.
#   install  fetch what the service needs into $LAKEHOUSE_CACHE (kept between clones on one machine);
#            idempotent and quiet, prints one line.
#   start    start it on 127.0.0.1 unless it is already running, wait until it answers, write its
#            KEY=VALUE lines to $SERVICE_DIR/service.env; on failure print the log tail and what to do.
#   stop     stop it (no-op when not running) and remove its service.env.
#   status   exit 0 and print one line when it is running, exit 1 otherwise.
#   env      print its KEY=VALUE lines (those of the running instance when there is one).
#
# Layout:
#   $LAKEHOUSE_CACHE  (default ~/.cache/lakehouse)  binaries, jars, venvs: expensive, versioned, shared.
#   $RUN_DIR          (<repo>/.cache/services)      data dirs, pid files, logs: per clone, git-ignored.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAKEHOUSE_CACHE="${LAKEHOUSE_CACHE:-$HOME/.cache/lakehouse}"
RUN_DIR="${LAKEHOUSE_SERVICES_DIR:-$ROOT/.cache/services}"
# Every service listens here only: nothing in the test suite needs another interface, and a test
# server with fixed credentials must not be reachable from the network.
HOST=127.0.0.1

# Set by each service script before sourcing: SERVICE (its name). Derived:
SERVICE_DIR="$RUN_DIR/$SERVICE"
PID_FILE="$SERVICE_DIR/pid"
LOG_FILE="$SERVICE_DIR/$SERVICE.log"
ENV_FILE="$SERVICE_DIR/service.env"

say() { echo "$SERVICE: $*"; }
fail() { echo "$SERVICE: $*" >&2; exit 1; }

# Prints the last lines of the service log to stderr, then fails with the given advice.
fail_with_log() {
  if [ -s "$LOG_FILE" ]; then
    echo "---- last lines of $LOG_FILE ----" >&2
    tail -n "${LOG_LINES:-30}" "$LOG_FILE" >&2
    echo "----" >&2
  fi
  fail "$*"
}

# True when something accepts TCP connections on $HOST:$1 (bash's /dev/tcp: no nc/ss needed).
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# True when pid $1 is alive and its command line contains $2. The pattern guards against pid reuse:
# a stale pid file must never make us report, or kill, an unrelated process.
pid_matches() {
  local pid="$1" pattern="$2"
  local cmdline
  [ -n "$pid" ] || return 1
  # Read into a variable rather than piping into grep -q: with pipefail, grep exiting early can
  # turn a match into SIGPIPE failure.
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmdline" == *"$pattern"* ]]
}

# Pid from $PID_FILE when that process is alive and matches $1, else nothing (exit 1).
running_pid() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if pid_matches "$pid" "$1"; then echo "$pid"; else return 1; fi
}

# Refuses to start when the port is taken by a process we did not start: connecting to someone
# else's server (another clone's, a system service) would make tests pass or fail for the wrong reason.
require_free_port() {
  local port="$1" setting="$2"
  if port_open "$port"; then
    fail "port $HOST:$port is already in use by another process (another clone's services? run its 'infra/services.sh down'), or set $setting to a free port."
  fi
}

# Starts "$@" detached in its own session (so a Ctrl-C in the caller does not kill it), output to
# $LOG_FILE, and records its pid.
spawn() {
  mkdir -p "$SERVICE_DIR"
  : >"$LOG_FILE"
  setsid "$@" >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
}

# wait_until SECONDS PROCESS_PATTERN COMMAND...: polls COMMAND every 0.25 s until it succeeds.
# Fails early, with the log, when the process died (a crash should not cost the full timeout).
wait_until() {
  local timeout="$1" pattern="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pattern" ] && ! running_pid "$pattern" >/dev/null; then
      fail_with_log "exited during start-up; the log above says why."
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail_with_log "did not become healthy within ${timeout}s; see the log above (raise LAKEHOUSE_START_TIMEOUT on a slow machine)."
    fi
    sleep 0.25
  done
}

# Stops the process in $PID_FILE matching $1: SIGTERM, up to 20 s grace, then SIGKILL. It was started
# with setsid, so its pid is also its process group: children (e.g. a server's workers) go with it.
stop_pid() {
  local pattern="$1" pid
  if ! pid="$(running_pid "$pattern")"; then
    rm -f "$PID_FILE" "$ENV_FILE"
    say "not running"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 80); do
    pid_matches "$pid" "$pattern" || break
    sleep 0.25
  done
  if pid_matches "$pid" "$pattern"; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE" "$ENV_FILE"
  say "stopped (pid $pid)"
}

# Writes the service's KEY=VALUE lines (from its env_lines function) where services.sh collects them.
write_env() {
  env_lines >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# The env command: the running instance's values if it wrote them, else what start would use.
print_env() {
  if [ -s "$ENV_FILE" ]; then cat "$ENV_FILE"; else env_lines; fi
}

# download URL DEST SHA256: fetches to a temporary name and renames only after the checksum matches,
# so an interrupted or corrupted download is never mistaken for a cached file.
download() {
  local url="$1" dest="$2" sha256="$3"
  mkdir -p "$(dirname "$dest")"
  curl -fsSL --retry 3 --retry-delay 2 -o "$dest.part" "$url" \
    || fail "could not download $url; check that Maven Central (repo1.maven.org) is reachable."
  local got
  got="$(sha256sum "$dest.part" | cut -d' ' -f1)"
  if [ "$got" != "$sha256" ]; then
    rm -f "$dest.part"
    fail "$url has sha256 $got, expected $sha256; refusing to use it."
  fi
  mv "$dest.part" "$dest"
}

# apt_install COMMAND PACKAGE...: installs Debian packages when COMMAND is missing. Only as root
# (CI and these machines are root); elsewhere it fails with the command to run.
apt_install() {
  local cmd="$1"; shift
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "'$cmd' is missing; install it (Debian/Ubuntu: sudo apt-get install -y $*) and retry."
  fi
  local log="$LAKEHOUSE_CACHE/apt-get-$SERVICE.log"
  mkdir -p "$LAKEHOUSE_CACHE"
  # Installs run in parallel (services.sh) and apt-get fails at once when another holds its lock:
  # take turns on our own lock, and wait for anyone else's (DPkg::Lock::Timeout, apt >= 1.9).
  # update first: on a fresh machine the package lists are empty and install would find nothing.
  if ! (
    flock 8
    apt-get update -q -o DPkg::Lock::Timeout=300 \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "$@"
  ) 8>"$LAKEHOUSE_CACHE/.apt.lock" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get install $* failed (log: $log); check that the Debian mirror is reachable."
  fi
}

# Seconds to wait for health; one knob for slow machines.
START_TIMEOUT="${LAKEHOUSE_START_TIMEOUT:-90}"

# Dispatches the standard commands to the script's functions (install, start, stop, status, env_lines).
main() {
  case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) print_env ;;
    *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
  esac
}
