# One image for both processes of wa-session-sync:
#   wa-worker  (the default command)  runs the WhatsApp Web sessions in Debian's headless shell
#   wa-sync    (e.g. `wa-sync migrate`, `wa-sync sync-sessions --auto-reconnect`)
#
# No secret is baked in: API key, database password and webhook secret come from the
# environment at run time (docker-compose.yml hands each process its own file: .env.worker,
# .env.sync).
#
#   docker build -t wa-session-sync:local .
#   docker run --rm wa-session-sync:local wa-sync --help

ARG NODE_IMAGE=node:22-bookworm-slim

# Only the shipped workspaces (shared, cli, worker) are copied and built: npm ci skips a workspace
# whose folder is absent, so the production install holds nothing that only the simulator,
# test-support or the benchmarks need (selfsigned, qrcode-terminal, autocannon, ...).

# ---- build: full install (dev dependencies included), TypeScript compile, the CLI's bundles ---
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# puppeteer must never try to download its own Chrome: the image uses Debian's headless shell.
ENV PUPPETEER_SKIP_DOWNLOAD=1
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/cli/package.json packages/cli/
COPY packages/worker/package.json packages/worker/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json ./
COPY packages/shared packages/shared
COPY packages/cli packages/cli
COPY packages/worker packages/worker
# wa-sync runs as two bundles (packages/cli/scripts/bundle.js says why), built from tsc's output.
RUN npx tsc -b packages/cli packages/worker && node packages/cli/scripts/bundle.js

# ---- prod-deps: production dependencies only --------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV PUPPETEER_SKIP_DOWNLOAD=1
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/cli/package.json packages/cli/
COPY packages/worker/package.json packages/worker/
# The bundled headless shell (@sparticuz/chromium, 67 MB) is for machines without a browser; the
# image installs Debian's, so it is left out. --ignore-scripts: the production tree needs no
# install script, and its only one is @scarf/scarf's telemetry (pulled in by swagger-ui-dist;
# the root package.json's scarfSettings turns it off for the other installs too).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force && rm -rf node_modules/@sparticuz

# ---- runtime ------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# chromium-headless-shell: the browser whatsapp-web.js drives, in the old headless mode (about a
# third of the CPU of a new-headless Chromium per launch); fonts-liberation: text metrics;
# tini: PID 1 that forwards SIGTERM and reaps the Chromium children (no zombie pile-up).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      chromium-headless-shell fonts-liberation tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    PUPPETEER_SKIP_DOWNLOAD=1 \
    PUPPETEER_EXECUTABLE_PATH=/usr/lib/chromium/chromium-headless-shell \
    WHATSAPP_SESSIONS_DIR=/data/sessions \
    LOG_DIR=/data/logs \
    WA_SYNC_AUDIT_LOG=/data/audit/wa-sync-audit.log \
    WA_SYNC_DATA_DIR=/data/pglite

WORKDIR /app
# node_modules, plus the workspaces' manifests and their own nested node_modules (npm nests a
# dependency there when its version differs from the hoisted one, e.g. the CLI's chalk 5).
COPY --from=prod-deps /app/package.json /app/package-lock.json ./
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/packages packages
COPY --from=build /src/packages/shared/dist packages/shared/dist
COPY --from=build /src/packages/cli/dist packages/cli/dist
COPY --from=build /src/packages/worker/dist packages/worker/dist
COPY packages/cli/bin packages/cli/bin
COPY packages/worker/bin packages/worker/bin
# The dashboard's page, script and style, served by the worker from beside dist/.
COPY packages/worker/dashboard packages/worker/dashboard
COPY scripts/*.sh scripts/

# `wa-worker` and `wa-sync` on PATH; the data folders belong to the unprivileged user so that
# named volumes mounted there start with the right owner. whatsapp-web.js keeps its web-version
# cache in ./.wwebjs_cache (relative to /app), so that folder is writable too.
RUN printf '#!/bin/sh\nexec node /app/packages/worker/bin/wa-worker.js "$@"\n' > /usr/local/bin/wa-worker \
 && printf '#!/bin/sh\nexec node /app/packages/cli/bin/wa-sync.js "$@"\n' > /usr/local/bin/wa-sync \
 && chmod 0755 /usr/local/bin/wa-worker /usr/local/bin/wa-sync scripts/*.sh \
 && mkdir -p /data/sessions /data/logs /data/audit /data/pglite /app/.wwebjs_cache \
 && chown -R node:node /data /app/.wwebjs_cache

# The image's own `node` user (uid 1000): Chromium and the worker never run as root.
USER node
EXPOSE 3001
ENTRYPOINT ["/usr/bin/tini", "--"]
# docker-compose.yml runs the preflight (`wa-worker --check`) before the worker.
CMD ["wa-worker"]
