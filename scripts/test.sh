#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, type-checks, lints (eslint.config.js:
# the workflow determinism rules among others), checks formatting, builds (global setup and the CLI tests
# use the built files), then runs jest against the real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
npm run --silent typecheck
npm run --silent lint
npm run --silent format:check
npm run --silent jest -- "$@"
