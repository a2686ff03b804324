#!/usr/bin/env bash
# Runs a command as on a machine with no system browser: in a private mount namespace where
# Debian's Chromium and headless shell are hidden (their folder an empty tmpfs, their launchers
# /dev/null), so whatever the command starts finds only the bundled headless shell, exactly as a
# newcomer's machine without Chromium would. Needs root (CI runs as root); PUPPETEER_EXECUTABLE_PATH
# is dropped too.
#   usage: scripts/without-system-browsers.sh <command> [args...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 <command> [args...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (a private mount namespace)" >&2; exit 2; }
unset PUPPETEER_EXECUTABLE_PATH
exec unshare --mount --propagation private bash -c '
  set -euo pipefail
  for dir in /usr/lib/chromium /usr/lib/chromium-browser /opt/google/chrome; do
    [ -d "$dir" ] && mount -t tmpfs -o mode=0755,size=1m none "$dir"
  done
  for name in chromium chromium-browser chromium-headless-shell chrome-headless-shell google-chrome google-chrome-stable; do
    while IFS= read -r file; do
      [ -n "$file" ] && [ -e "$file" ] && mount --bind /dev/null "$file"
    done < <(type -ap "$name" 2>/dev/null || true)
  done
  exec "$@"
' without-system-browsers "$@"
