#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, type-checks, builds (global setup and
# the CLI tests use the built files), then runs jest against the real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
npm run --silent typecheck
npm run --silent jest -- "$@"
