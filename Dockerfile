# syntax=docker/dockerfile:1
# One image recipe for every app. Build from the repository root (the context is the workspace):
#   docker build --build-arg APP=pool-worker  -t registry.example.com/breakfix/pool-worker:0.1.0 .
#   docker build --build-arg APP=orchestrator -t registry.example.com/breakfix/orchestrator:0.1.0 .
#   docker build --build-arg APP=slack-bot    -t registry.example.com/breakfix/slack-bot:0.1.0 .
# The apps run their TypeScript sources through tsx (there is no separate build step), so the
# runtime needs tsx and the workspace packages' sources, but no dev tooling.

# Node 24, the major scripts/ensure-node.sh runs the tests and the sandbox on (tests/runtime/node.test.ts).
ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${NODE_IMAGE} AS build
ARG APP
WORKDIR /app
COPY . .
# Production dependencies only, exactly as locked. Install scripts are skipped: nothing the apps
# load at run time needs one (ssh2's optional native speed-up is not built, it has a JS fallback).
# The entry module is written here because distroless has no shell to expand ${APP} at run time.
RUN test -f "apps/${APP}/src/main.ts" || { echo "APP must be one of: $(ls apps)" >&2; exit 1; } \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node -e "require.resolve('tsx/package.json')" \
 && echo "await import('./apps/${APP}/src/main.ts');" > entry.mjs

# distroless: node and little else (no shell, no package manager), uid 65532.
FROM ${RUNTIME_IMAGE}
ARG APP
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json /app/entry.mjs /app/
COPY --from=build /app/node_modules /app/node_modules
COPY --from=build /app/packages /app/packages
COPY --from=build /app/cloud-init /app/cloud-init
COPY --from=build /app/apps/${APP} /app/apps/${APP}
# The scenario catalog ships with the images (the orchestrator serves it from
# BREAKFIX_SCENARIOS_DIR=/app/scenarios); mount another catalog over that path to replace it.
COPY --from=build /app/scenarios /app/scenarios
USER 65532:65532
# pool-worker: 9464 (metrics); orchestrator: 8080; slack-bot: 3000.
EXPOSE 3000 8080 9464
# The image's entrypoint is node.
CMD ["--import", "tsx", "entry.mjs"]
