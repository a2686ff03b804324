#!/usr/bin/env bash
# Asks a running wa-worker for GET /health and prints a one-line verdict.
# Exit 0: the worker answered a health document; 1: unreachable, no answer in time, or a wrong
# answer; 2: bad usage.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: check-worker-health.sh [--url URL] [--timeout SECONDS] [--json | --quiet] [--env-file FILE]

Asks the worker's GET /health (no API key needed) and prints one line:
  OK: wa-worker at http://localhost:3001 is up (uptime 1390s, version 0.1.0): 3 sessions, 2 connected, 1 reconnecting
  FAIL: wa-worker at http://localhost:3001 is unreachable (ECONNREFUSED)

  --url URL         worker base URL (default: $WHATSAPP_NODE_SERVICE_URL, else http://localhost:3001)
  --timeout SECONDS how long to wait for the answer (default 5)
  --json            print one JSON object instead: {"ok","url","checked_at","health"|"error"}
  --quiet           print nothing; the exit code is the verdict (0 ok, 1 not ok)
  --env-file FILE   read variables from FILE first (the .env format)
EOF
}

url_arg=""
timeout=5
mode=line
while [ $# -gt 0 ]; do
  case "$1" in
    --url) [ $# -ge 2 ] || die 2 "--url needs a value"; url_arg=$2; shift 2 ;;
    --url=*) url_arg=${1#*=}; shift ;;
    --timeout) [ $# -ge 2 ] || die 2 "--timeout needs a value"; timeout=$2; shift 2 ;;
    --timeout=*) timeout=${1#*=}; shift ;;
    --json) mode=json; shift ;;
    -q | --quiet) mode=quiet; shift ;;
    --env-file) [ $# -ge 2 ] || die 2 "--env-file needs a value"; load_env_file "$2"; shift 2 ;;
    --env-file=*) load_env_file "${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown argument: $1" ;;
  esac
done
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die 2 "--timeout must be a whole number of seconds, got: $timeout"
url=$(worker_url "$url_arg") || exit 2
need_node

WA_URL=$url WA_TIMEOUT=$timeout WA_MODE=$mode node -e '
  const url = process.env.WA_URL;
  const seconds = Number(process.env.WA_TIMEOUT);
  const mode = process.env.WA_MODE;
  const checkedAt = new Date().toISOString();

  function verdict(ok, line, extra) {
    if (mode === "json") console.log(JSON.stringify({ ok, url, checked_at: checkedAt, ...extra }));
    else if (mode === "line") console.log(line);
    process.exitCode = ok ? 0 : 1;
  }
  function fail(error) {
    verdict(false, `FAIL: wa-worker at ${url} ${error}`, { error });
  }

  fetch(`${url}/health`, { signal: AbortSignal.timeout(seconds * 1000) })
    .then(async (response) => {
      const text = await response.text();
      if (!response.ok) return fail(`answered HTTP ${response.status} on /health`);
      let health;
      try { health = JSON.parse(text); } catch { health = undefined; }
      if (!health || health.status !== "ok" || typeof health.sessions !== "object" || health.sessions === null) {
        return fail("did not answer a wa-worker health document on /health (is something else listening there?)");
      }
      const s = health.sessions;
      const others = Object.entries(s.by_status || {})
        .filter(([status, n]) => status !== "connected" && n > 0)
        .map(([status, n]) => `, ${n} ${status}`)
        .join("");
      const version = health.version ? `, version ${health.version}` : "";
      verdict(true,
        `OK: wa-worker at ${url} is up (uptime ${health.uptime}s${version}): ${s.total} sessions, ${s.connected} connected${others}`,
        { health });
    })
    .catch((e) => {
      if (e.name === "TimeoutError") return fail(`did not answer /health within ${seconds}s`);
      const why = (e.cause && (e.cause.code || e.cause.message)) || e.message;
      fail(`is unreachable (${why})`);
    });
'
