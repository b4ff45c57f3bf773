#!/usr/bin/env bash
# The local lab from a fresh clone: installs what is missing, builds, then runs lab/run.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
npm run --silent build
exec node dist/lab/run.js
