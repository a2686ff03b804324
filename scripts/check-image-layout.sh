#!/usr/bin/env bash
# For machines without a Docker engine: assembles, in a temp folder, the file tree that the
# Dockerfile's runtime stage holds (production dependencies only, the built dist/ folders, the
# operator scripts) and checks that wa-sync and wa-worker start from it. Catches a dependency
# that is only a devDependency, a nested node_modules left out, a moved bin. It mirrors the
# Dockerfile's stages by hand: change both together. Exit 0 when both start, 1 otherwise.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  -h | --help)
    echo "Usage: check-image-layout.sh [--keep]   (--keep: leave the assembled tree for a look)"
    exit 0
    ;;
  "") ;;
  *) die 2 "unknown argument: $1" ;;
esac
need_node
command -v npm >/dev/null 2>&1 || die 1 "npm not found on PATH"

root=$(cd "$WA_SCRIPTS_DIR/.." && pwd)
app=$(mktemp -d "${TMPDIR:-/tmp}/wa-image-layout.XXXXXX")
worker_pid=""
cleanup() {
  if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then
    kill -TERM "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then echo "kept: $app"; else rm -rf "$app"; fi
}
trap cleanup EXIT

step "Building in $root (tsc -b, then the CLI's bundles, as the build stage)"
(cd "$root" && npx --no-install tsc -b && node packages/cli/scripts/bundle.js) || die 1 "the build failed: see above"

step "Production dependencies in $app (npm ci --omit=dev --ignore-scripts, as the prod-deps stage)"
# The shipped workspaces only, as the Dockerfile copies them: npm ci skips the absent ones
# (simulator, test-support, bench) and so installs none of their dependencies.
cp "$root/package.json" "$root/package-lock.json" "$app/"
for package in shared cli worker; do
  mkdir -p "$app/packages/$package"
  cp "$root/packages/$package/package.json" "$app/packages/$package/"
done
(cd "$app" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
  die 1 "npm ci --omit=dev --ignore-scripts failed: see above"
for unwanted in @wa-session-sync/simulator @wa-session-sync/test-support @wa-session-sync/bench selfsigned qrcode-terminal autocannon; do
  [ ! -e "$app/node_modules/$unwanted" ] || die 1 "the production install holds $unwanted, which only tests, the demo or the benchmarks need"
done
echo "    no simulator, test-support or bench package, nor their dependencies"
# As the prod-deps stage: the image has Debian's headless shell, not the bundled one.
rm -rf "$app/node_modules/@sparticuz"

step "The runtime stage's files: dist/ of shared, cli and worker, their bins; scripts/*.sh"
for package in shared cli worker; do
  cp -R "$root/packages/$package/dist" "$app/packages/$package/dist"
done
cp -R "$root/packages/cli/bin" "$app/packages/cli/bin"
cp -R "$root/packages/worker/bin" "$app/packages/worker/bin"
mkdir -p "$app/scripts" "$app/data/sessions" "$app/data/logs"
cp "$root"/scripts/*.sh "$app/scripts/"

step "wa-sync --help"
node "$app/packages/cli/bin/wa-sync.js" --help >/dev/null || die 1 "wa-sync does not start from the assembled tree"
echo "    ok"

step "wa-sync migrate on the embedded database (PGlite, outside the bundles, from the production node_modules)"
(cd "$app" && env -i PATH="$PATH" HOME="$app/data" WA_SYNC_DATA_DIR="$app/data/pglite" \
  node packages/cli/bin/wa-sync.js migrate) || die 1 "wa-sync migrate does not run from the assembled tree"

step "wa-worker starts and answers /health"
log="$app/data/worker.out"
(cd "$app" && exec env -i PATH="$PATH" HOME="$app/data" NODE_ENV=production PORT=0 \
  WHATSAPP_NODE_API_KEY="layout-check-key-$$" WHATSAPP_SESSIONS_DIR="$app/data/sessions" \
  LOG_DIR="$app/data/logs" WHATSAPP_RESTORE_ON_START=false \
  node packages/worker/bin/wa-worker.js >"$log" 2>&1) &
worker_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*"message":"wa-worker listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$worker_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  sed 's/^/    /' "$log" >&2
  die 1 "wa-worker did not start from the assembled tree"
fi
printf '    %s\n' "$("$app/scripts/check-worker-health.sh" --url "http://127.0.0.1:$port")"

step "The assembled tree runs both processes"
