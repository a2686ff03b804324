#!/usr/bin/env bash
# The sync runner of docker-compose.yml (a cron without cron): runs
# `wa-sync sync-sessions <flags>` now, then every WA_SYNC_INTERVAL_SECONDS (300) counted from the
# start of each run, forever, logging to stdout. Runs never overlap (one after the other).
# A run that fails (exit 1: worker or database unreachable) is logged and retried next time;
# exit 2 (bad arguments or configuration) ends the loop with 2, since retrying cannot fix it.
# SIGTERM / SIGINT: lets a running sync finish, then exits 0.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help)
    cat <<'EOF'
Usage: sync-loop.sh [wa-sync sync-sessions flags...]     e.g. sync-loop.sh --auto-reconnect

Runs `wa-sync sync-sessions <flags>` at once and then every $WA_SYNC_INTERVAL_SECONDS (default
300) seconds, until SIGTERM. wa-sync is $WA_SYNC_BIN, else `wa-sync` on PATH, else this
checkout's packages/cli/bin/wa-sync.js.
EOF
    exit 0
    ;;
esac

interval=${WA_SYNC_INTERVAL_SECONDS:-300}
[[ $interval =~ ^[1-9][0-9]*$ ]] || die 2 "WA_SYNC_INTERVAL_SECONDS must be a whole number of seconds, got: $interval"
resolve_wa_sync

stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
note() { printf '[%s] sync-loop: %s\n' "$(stamp)" "$*"; }

stopping=0
sleeper=""
on_signal() {
  stopping=1
  # A sleep ends at once; a running sync is left to finish.
  [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
}
trap on_signal TERM INT

note "every ${interval}s: wa-sync sync-sessions $*"
run=0
while [ "$stopping" = 0 ]; do
  run=$((run + 1))
  started=$(date +%s)
  note "run $run starting"
  "${WA_SYNC_CMD[@]}" sync-sessions "$@" &
  child=$!
  wait "$child"
  status=$?
  # A signal interrupts `wait` (status > 128) while the sync still runs: wait for it again.
  while [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; do
    wait "$child"
    status=$?
  done
  elapsed=$(($(date +%s) - started))
  case "$status" in
    0) note "run $run finished: exit 0 (${elapsed}s)" ;;
    2)
      note "run $run: wa-sync rejected its arguments or configuration (exit 2); fix them and restart. Stopping."
      exit 2
      ;;
    *) note "run $run failed: exit $status (${elapsed}s); next try in the next round" ;;
  esac
  [ "$stopping" = 1 ] && break
  pause=$((interval - elapsed))
  [ "$pause" -gt 0 ] || pause=1
  sleep "$pause" &
  sleeper=$!
  # The signal may have come between `sleep &` and the line above.
  [ "$stopping" = 1 ] && kill "$sleeper" 2>/dev/null
  wait "$sleeper" 2>/dev/null
  sleeper=""
done
note "stopped by signal"
exit 0
