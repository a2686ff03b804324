# shellcheck shell=bash
# Helpers shared by the operator scripts in this folder. Sourced by them, never run alone.
# Only bash and node are needed (the container image has no curl or jq).

WA_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WA_SCRIPT_NAME=$(basename "$0")

# step MESSAGE: what the script is about to do, on stdout.
step() { printf '==> %s\n' "$*"; }

# die CODE MESSAGE: one clear line on stderr, then exit with CODE.
die() {
  local code=$1
  shift
  printf '%s: %s\n' "$WA_SCRIPT_NAME" "$*" >&2
  exit "$code"
}

need_node() {
  command -v node >/dev/null 2>&1 || die 1 "node not found on PATH (Node.js >= 20 is needed); cron and systemd have a short PATH, set it explicitly"
}

# load_env_file FILE: exports every KEY=value of FILE (the .env format of .env.example).
load_env_file() {
  local file=$1
  [ -f "$file" ] && [ -r "$file" ] || die 2 "cannot read env file: $file"
  case "$file" in */*) ;; *) file="./$file" ;; esac
  set -a
  # shellcheck disable=SC1090
  . "$file"
  set +a
}

# worker_url [URL]: the worker's base URL without a trailing slash, from the argument,
# WHATSAPP_NODE_SERVICE_URL or the default; exits 2 when it is not an http(s) URL.
worker_url() {
  local url=${1:-${WHATSAPP_NODE_SERVICE_URL:-http://localhost:3001}}
  # Not echoed in these two messages: such a URL may hold a password or the key.
  if [[ $url =~ ^[a-z]+://[^/]*@ ]]; then die 2 "the worker URL must not carry credentials; the key goes in WHATSAPP_NODE_API_KEY"; fi
  if [[ $url == *\?* ]]; then die 2 "the worker URL must not carry a query; the key goes in WHATSAPP_NODE_API_KEY"; fi
  case "$url" in
    http://?* | https://?*) ;;
    *) die 2 "not an http(s) URL: $url" ;;
  esac
  printf '%s\n' "${url%%/}"
}

# resolve_wa_sync: sets the array WA_SYNC_CMD to the wa-sync command: $WA_SYNC_BIN (words),
# else `wa-sync` on PATH, else this checkout's built CLI.
resolve_wa_sync() {
  if [ -n "${WA_SYNC_BIN:-}" ]; then
    read -r -a WA_SYNC_CMD <<<"$WA_SYNC_BIN"
  elif command -v wa-sync >/dev/null 2>&1; then
    WA_SYNC_CMD=(wa-sync)
  elif [ -f "$WA_SCRIPTS_DIR/../packages/cli/dist/wa-sync.js" ]; then
    need_node
    WA_SYNC_CMD=(node "$WA_SCRIPTS_DIR/../packages/cli/bin/wa-sync.js")
  else
    die 1 "wa-sync not found: build this checkout (npm ci && npm run build), put wa-sync on PATH, or set WA_SYNC_BIN"
  fi
}

# database_label: where DATABASE_URL points, as host:port/database (never the password).
database_label() {
  if [ -z "${DATABASE_URL:-}" ]; then
    printf 'the embedded PGlite database in %s\n' "${WA_SYNC_DATA_DIR:-./.data/pglite}"
    return
  fi
  need_node
  node -e '
    try {
      const u = new URL(process.env.DATABASE_URL);
      console.log(`Postgres at ${u.hostname}:${u.port || 5432}/${decodeURIComponent(u.pathname.slice(1)) || "(default)"}`);
    } catch {
      console.log("Postgres at (DATABASE_URL is not a valid URL)");
    }'
}

# worker_get URL: GET URL with a 10 s bound (WA_HTTP_TIMEOUT seconds), sending the API key from
# the environment variable WA_HTTP_KEY when set, so it never appears on a command line. Prints
# the HTTP status on the first line and the body after it; status 000 and the reason when no
# answer came.
worker_get() {
  need_node
  WA_HTTP_URL=$1 node -e '
    const headers = process.env.WA_HTTP_KEY ? { "x-api-key": process.env.WA_HTTP_KEY } : {};
    const seconds = Number(process.env.WA_HTTP_TIMEOUT || 10);
    fetch(process.env.WA_HTTP_URL, { headers, signal: AbortSignal.timeout(seconds * 1000) })
      .then(async (r) => process.stdout.write(`${r.status}\n${await r.text()}`))
      .catch((e) => {
        const why = e.name === "TimeoutError" ? `no answer within ${seconds}s`
          : (e.cause && (e.cause.code || e.cause.message)) || e.message;
        process.stdout.write(`000\n${why}`);
      });'
}
