# syntax=docker/dockerfile:1
# Multi-arch worker image (linux/amd64 for the Ryzen node, linux/arm64 for the DGX Sparks):
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/willingham-cloud/cluster-ops:0.1.0 .
# The build stage runs on the builder's own platform: TypeScript output and the workflow bundle are
# platform-free, and @temporalio/core-bridge ships its native library for every target in one package.

ARG NODE_IMAGE=node:20.19-bookworm-slim
ARG GO_IMAGE=golang:1.26-bookworm

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json .swcrc ./
COPY src src
COPY lab lab
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# kubectl for `kubectl kustomize`: readFluxGraphFromGit renders Flux Kustomizations with it (KUBECTL).
# Built, cross-compiled for the target, from the wrapper module the lab and the tests build it from
# (lab/infra/go/kubernetes, v1.33.13): its go.sum pins every module, so nothing unpinned is fetched.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS kubectl
ARG TARGETARCH
WORKDIR /src
COPY lab/infra/go/kubernetes ./
RUN CGO_ENABLED=0 GOOS=linux GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w" -o /kubectl k8s.io/kubernetes/cmd/kubectl

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    METRICS_ADDRESS=0.0.0.0:9464
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist/src dist/src
COPY --from=build /src/dist/workflow-bundle.js dist/workflow-bundle.js
COPY --from=kubectl /kubectl /usr/local/bin/kubectl
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["node", "dist/src/worker.js"]
