#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs npm packages and the pinned servers when missing,
# type-checks, builds (the CLI and worker tests run the built files), then runs jest against real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@temporalio/worker ] || npm ci --no-audit --no-fund
bash lab/infra/install.sh
npm run --silent typecheck

npm run --silent jest -- "$@"
