#!/usr/bin/env bash
# Makes a headless-capable Chromium available for tests/integration/campaign-metrics-report-chromium.test.ts,
# which opens the self-contained HTML metrics report (sql/campaign-metrics-report.ts) and checks its charts drew.
#
# Prints the browser's absolute path on stdout (one line, nothing else there); messages go to stderr.
# Idempotent and quick when a browser is already there: an existing chromium, chromium-browser,
# google-chrome or google-chrome-stable on PATH (or CHROMIUM=/path/to/browser) is used as is. Otherwise
# it installs Debian's `chromium` package with apt, which needs root (or passwordless sudo).
# Runs are serialised with flock on this script, so parallel callers do not race apt's own lock.
set -euo pipefail

fail() { echo "setup-chromium: $*" >&2; exit 1; }

find_browser() {
  if [ -n "${CHROMIUM:-}" ]; then
    command -v "$CHROMIUM" 2>/dev/null || fail "CHROMIUM=$CHROMIUM is not an executable; unset it or point it at a Chromium/Chrome binary."
    return 0
  fi
  local name
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

if find_browser; then exit 0; fi

if command -v flock >/dev/null 2>&1; then
  exec 9<"${BASH_SOURCE[0]}"
  flock 9
  # Someone else may have installed it while we waited.
  if find_browser; then exit 0; fi
fi

command -v apt-get >/dev/null 2>&1 \
  || fail "no chromium, chromium-browser or google-chrome on PATH, and no apt-get to install one. Install Chromium with your package manager, or set CHROMIUM=/path/to/chrome."

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "no Chromium on PATH, and installing Debian's chromium package needs root: run 'sudo bash infra/setup-chromium.sh' (or 'sudo apt-get install --no-install-recommends chromium') once, or set CHROMIUM=/path/to/chrome."
  fi
fi

echo "setup-chromium: installing Debian's chromium package (apt-get; takes a minute or two the first time)" >&2
LOG="$(mktemp -t setup-chromium.XXXXXX.log)"
export DEBIAN_FRONTEND=noninteractive
if ! { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium; } >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "apt-get could not install chromium (full log: $LOG). Check that the Debian repositories are reachable (apt-get update) and that dpkg is not locked by another install."
fi
rm -f "$LOG"

find_browser || fail "apt-get installed chromium, but no chromium binary is on PATH (PATH=$PATH)."
