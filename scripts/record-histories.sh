#!/usr/bin/env bash
# Re-records test/fixtures/histories: runs the workflow and end-to-end tests with RECORD_HISTORIES set, so
# every run they start through the test helpers (and each run's children) leaves its history there. The
# replay tests (test/replay) replay them all on the current code. Re-record after a deliberate, patched()
# change has landed and old runs are gone; never to make a replay failure go away.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf test/fixtures/histories
RECORD_HISTORIES=test/fixtures/histories npm run --silent jest -- test/workflows test/e2e "$@"
find test/fixtures/histories -name '*.json' | sed 's#test/fixtures/histories/\([^/]*\)/.*#\1#' | sort | uniq -c
