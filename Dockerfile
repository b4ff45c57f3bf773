# syntax=docker/dockerfile:1
# Multi-arch worker image (linux/amd64 for the Ryzen node, linux/arm64 for the DGX Sparks):
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/willingham-cloud/cluster-ops:0.1.0 .
# The build stage runs on the builder's own platform: TypeScript output and the workflow bundle are
# platform-free, and @temporalio/core-bridge ships its native library for every target in one package.

ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json .swcrc ./
COPY src src
COPY lab lab
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    METRICS_ADDRESS=0.0.0.0:9464
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist/src dist/src
COPY --from=build /src/dist/workflow-bundle.js dist/workflow-bundle.js
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["node", "dist/src/worker.js"]
