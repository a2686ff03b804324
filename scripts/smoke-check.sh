#!/usr/bin/env bash
# Smoke check of a running deployment, in three steps: the worker's health, the API key against
# /api/sessions, and a dry-run sync (reads the database and the worker, writes nothing).
# Exit 0 when all pass, 1 at the first failure (it says which and why), 2 bad usage.
# The API key travels in the environment only: it is never printed nor put on a command line.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: smoke-check.sh [--url URL] [--workspace ID] [--skip-sync] [--env-file FILE]

  1. GET /health                       the worker is up
  2. GET /api/sessions with the key    the key in this environment is the worker's
  3. wa-sync sync-sessions --dry-run   the CLI reaches the database and the worker

Needs WHATSAPP_NODE_API_KEY (and DATABASE_URL for step 3) in the environment or --env-file.

  --url URL         worker base URL (default: $WHATSAPP_NODE_SERVICE_URL, else http://localhost:3001)
  --workspace ID    limit the dry-run sync to one workspace
  --skip-sync       steps 1 and 2 only (no database needed)
  --env-file FILE   read variables from FILE first (the .env format)
EOF
}

url_arg=""
workspace=""
skip_sync=0
while [ $# -gt 0 ]; do
  case "$1" in
    --url) [ $# -ge 2 ] || die 2 "--url needs a value"; url_arg=$2; shift 2 ;;
    --url=*) url_arg=${1#*=}; shift ;;
    --workspace) [ $# -ge 2 ] || die 2 "--workspace needs a value"; workspace=$2; shift 2 ;;
    --workspace=*) workspace=${1#*=}; shift ;;
    --skip-sync) skip_sync=1; shift ;;
    --env-file) [ $# -ge 2 ] || die 2 "--env-file needs a value"; load_env_file "$2"; shift 2 ;;
    --env-file=*) load_env_file "${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown argument: $1" ;;
  esac
done
url=$(worker_url "$url_arg") || exit 2
[ -n "${WHATSAPP_NODE_API_KEY:-}" ] || die 2 "WHATSAPP_NODE_API_KEY is not set (export it, or pass --env-file .env)"
if [ -n "$workspace" ] && ! [[ $workspace =~ ^[A-Za-z0-9_-]{1,100}$ ]]; then
  die 2 "--workspace must match ^[A-Za-z0-9_-]{1,100}\$"
fi
total=3
[ "$skip_sync" = 1 ] && total=2

failed() { die 1 "smoke check FAILED at step $1/$total: $2"; }

# 1. health -----------------------------------------------------------------------------------
step "1/$total worker health: GET $url/health"
if ! verdict=$("$WA_SCRIPTS_DIR/check-worker-health.sh" --url "$url"); then
  printf '    %s\n' "$verdict"
  failed 1 "the worker is not healthy"
fi
printf '    %s\n' "$verdict"

# 2. the key ----------------------------------------------------------------------------------
step "2/$total API key: GET $url/api/sessions (key from WHATSAPP_NODE_API_KEY, not shown)"
response=$(WA_HTTP_KEY=$WHATSAPP_NODE_API_KEY worker_get "$url/api/sessions")
status=${response%%$'\n'*}
body=${response#*$'\n'}
case "$status" in
  200) ;;
  000) failed 2 "no answer from $url/api/sessions ($body)" ;;
  401 | 403) failed 2 "the worker rejected the key (HTTP $status): WHATSAPP_NODE_API_KEY here differs from the worker's" ;;
  *) failed 2 "GET /api/sessions answered HTTP $status" ;;
esac
summary=$(WA_BODY=$body node -e '
  let list;
  try { list = JSON.parse(process.env.WA_BODY).sessions; } catch {}
  if (!Array.isArray(list)) { console.log("!not a session list"); process.exit(0); }
  const counts = {};
  for (const s of list) counts[s.status] = (counts[s.status] || 0) + 1;
  const parts = Object.entries(counts).map(([k, n]) => `${n} ${k}`);
  console.log(`${list.length} sessions listed${parts.length ? ` (${parts.join(", ")})` : ""}`);')
case "$summary" in
  '!'*) failed 2 "GET /api/sessions answered 200 but ${summary#!}" ;;
esac
printf '    key accepted: %s\n' "$summary"

# 3. dry-run sync -------------------------------------------------------------------------------
if [ "$skip_sync" = 0 ]; then
  resolve_wa_sync
  args=(sync-sessions --dry-run --json)
  [ -n "$workspace" ] && args+=(--workspace "$workspace")
  step "3/$total dry-run sync: wa-sync ${args[*]} ($(database_label), writes nothing)"
  errors=$(mktemp)
  trap 'rm -f "$errors"' EXIT
  set +e
  report=$(WHATSAPP_NODE_SERVICE_URL=$url "${WA_SYNC_CMD[@]}" "${args[@]}" 2>"$errors")
  status=$?
  set -e
  if [ "$status" != 0 ]; then
    sed 's/^/    /' "$errors" >&2
    case "$status" in
      1) failed 3 "wa-sync could not sync (exit 1: worker or database unreachable)" ;;
      2) failed 3 "wa-sync rejected its arguments or configuration (exit 2)" ;;
      *) failed 3 "wa-sync exited with $status" ;;
    esac
  fi
  line=$(WA_REPORT=$report node -e '
    let r;
    try { r = JSON.parse(process.env.WA_REPORT); } catch {}
    if (r && r.skipped === true) {
      console.log(`sync skipped, which is fine: ${r.reason || "another sync holds the lock"}`);
      process.exit(0);
    }
    const s = r && r.summary;
    if (!s || typeof s.mismatches !== "number") { console.log("!"); process.exit(0); }
    console.log(`mismatches found: ${s.mismatches} (dry run: nothing reconnected or written)`);')
  [ "$line" != '!' ] || failed 3 "wa-sync exited 0 but its --json output has no summary.mismatches"
  printf '    %s\n' "$line"
fi

step "smoke check passed ($total/$total)"
