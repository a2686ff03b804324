#!/usr/bin/env bash
# Applies the whatsapp_accounts schema (wa-sync migrate) to DATABASE_URL, or to the embedded
# database when DATABASE_URL is unset. Safe to run again: applied migrations are skipped.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: migrate.sh [--env-file FILE]

Runs `wa-sync migrate` against $DATABASE_URL (Postgres) or, when it is unset, the embedded
PGlite database in $WA_SYNC_DATA_DIR. Exit 0 when the schema is up to date.

  --env-file FILE   read variables from FILE first (the .env format)

wa-sync is $WA_SYNC_BIN, else `wa-sync` on PATH, else this checkout's packages/cli/bin/wa-sync.js.
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) [ $# -ge 2 ] || die 2 "--env-file needs a value"; load_env_file "$2"; shift 2 ;;
    --env-file=*) load_env_file "${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown argument: $1" ;;
  esac
done

resolve_wa_sync
step "Applying the wa-sync schema to $(database_label)"
set +e
"${WA_SYNC_CMD[@]}" migrate
status=$?
set -e
case "$status" in
  0) step "Schema up to date" ;;
  2) die 2 "wa-sync migrate rejected its configuration (exit 2): see the message above" ;;
  *) die 1 "wa-sync migrate failed (exit $status): is the database reachable and DATABASE_URL right? See the message above" ;;
esac
