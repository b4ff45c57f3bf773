# Sourced by scripts/test.sh and scripts/lab.sh: npm packages and the pinned servers, when missing.
# (eslint and prettier: a node_modules installed before the linters were added lacks them)
[ -d node_modules/@temporalio/worker ] && [ -d node_modules/typescript-eslint ] && [ -d node_modules/prettier ] || npm ci --no-audit --no-fund
bash lab/infra/install.sh
